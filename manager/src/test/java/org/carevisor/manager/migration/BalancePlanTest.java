package org.carevisor.manager.migration;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The balancer moves one VM at a time towards even load and settles instead of moving VMs back and forth. */
class BalancePlanTest {
    private static final Instant NOW = Instant.parse("2026-11-21T12:00:00Z");

    private static BalancePlan.Candidate vm(String id, String host, int memory) {
        return new BalancePlan.Candidate(id, id, host, memory, true, null);
    }

    @Test
    void withinTheThresholdNothingMoves() {
        List<BalancePlan.HostLoad> hosts = List.of(new BalancePlan.HostLoad("h1", "h1", 1000, 500),
                new BalancePlan.HostLoad("h2", "h2", 1000, 350));
        assertThat(BalancePlan.next(hosts, List.of(vm("a", "h1", 500)), 20, Duration.ZERO, NOW, (v, h) -> true))
                .isEmpty();
    }

    @Test
    void movesTheVmThatEvensLoadBestAndExplainsWhy() {
        List<BalancePlan.HostLoad> hosts = List.of(new BalancePlan.HostLoad("h1", "h1", 1000, 900),
                new BalancePlan.HostLoad("h2", "h2", 1000, 100));
        List<BalancePlan.Candidate> vms = List.of(vm("big", "h1", 600), vm("mid", "h1", 300), vm("small", "h2", 100));
        Optional<BalancePlan.Move> m = BalancePlan.next(hosts, vms, 20, Duration.ZERO, NOW, (v, h) -> true);
        assertThat(m).isPresent();
        // moving "big" would overshoot (h2 at 70% > h1 at 30%): "mid" evens it out (60% / 40%)
        assertThat(m.get().vmId()).isEqualTo("mid");
        assertThat(m.get().why()).contains("90%").contains("10%").contains("threshold 20").contains("60%")
                .contains("40%");
    }

    @Test
    void rulesLocalStorageAndCooldownKeepVmsWhereTheyAre() {
        List<BalancePlan.HostLoad> hosts = List.of(new BalancePlan.HostLoad("h1", "h1", 1000, 800),
                new BalancePlan.HostLoad("h2", "h2", 1000, 0));
        List<BalancePlan.Candidate> vms = List.of(
                new BalancePlan.Candidate("local", "local", "h1", 400, false, null),
                new BalancePlan.Candidate("recent", "recent", "h1", 400, true, NOW.minusSeconds(60)));
        assertThat(BalancePlan.next(hosts, vms, 20, Duration.ofMinutes(30), NOW, (v, h) -> true)).isEmpty();
        // the cooldown passed: "recent" may move, unless the scheduler refuses it
        assertThat(BalancePlan.next(hosts, vms, 20, Duration.ofMinutes(30), NOW.plusSeconds(3600), (v, h) -> true))
                .map(BalancePlan.Move::vmId).contains("recent");
        assertThat(BalancePlan.next(hosts, vms, 20, Duration.ofMinutes(30), NOW.plusSeconds(3600), (v, h) -> false))
                .isEmpty();
    }

    @Test
    void repeatedRunsSettleWithoutMovingAnyVmBack() {
        Map<String, Long> used = new HashMap<>(Map.of("h1", 0L, "h2", 0L, "h3", 0L));
        List<BalancePlan.Candidate> vms = new ArrayList<>();
        int[] sizes = {512, 256, 256, 1024, 128, 128, 512, 768};
        for (int i = 0; i < sizes.length; i++) {
            vms.add(vm("v" + i, "h1", sizes[i]));
            used.merge("h1", (long) sizes[i], Long::sum);
        }
        Map<String, Integer> moves = new HashMap<>();
        Instant now = NOW;
        for (int round = 0; round < 50; round++) {
            List<BalancePlan.HostLoad> hosts = new ArrayList<>();
            used.forEach((h, u) -> hosts.add(new BalancePlan.HostLoad(h, h, 4096, u)));
            hosts.sort(java.util.Comparator.comparing(BalancePlan.HostLoad::id));
            Optional<BalancePlan.Move> m = BalancePlan.next(hosts, vms, 10, Duration.ofMinutes(30), now,
                    (v, h) -> true);
            if (m.isEmpty()) {
                break;
            }
            BalancePlan.Move move = m.get();
            moves.merge(move.vmId(), 1, Integer::sum);
            int size = vms.stream().filter(v -> v.id().equals(move.vmId())).findFirst().orElseThrow().memoryMiB();
            used.merge(move.fromHostId(), (long) -size, Long::sum);
            used.merge(move.toHostId(), (long) size, Long::sum);
            vms.replaceAll(v -> v.id().equals(move.vmId())
                    ? new BalancePlan.Candidate(v.id(), v.name(), move.toHostId(), v.memoryMiB(), true, null) : v);
            now = now.plusSeconds(60);
        }
        assertThat(moves.values()).as("no VM moves twice").allMatch(n -> n == 1);
        long max = used.values().stream().mapToLong(Long::longValue).max().orElseThrow();
        long min = used.values().stream().mapToLong(Long::longValue).min().orElseThrow();
        assertThat((max - min) / 4096.0).as("spread after balancing: %s", used).isLessThanOrEqualTo(0.25);
    }
}
