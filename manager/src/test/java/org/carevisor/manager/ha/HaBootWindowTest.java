package org.carevisor.manager.ha;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.carevisor.manager.ha.HaEngine.Decision.Kind;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The boot window as a table: the engine starts (a manager start after a site power cut) knowing hosts h1 (watched
 * here, fence agent configured) and h2 (a peer that reports from second 1 on). Each case says whether h1 ever
 * reports, whether it holds an HA VM, what h2 sees of h1's lease, and the length of the window; the expected kinds
 * are the decisions about h1 in the first 100 s, in order.
 */
class HaBootWindowTest {
    static final Instant T0 = Instant.parse("2026-03-01T08:00:00Z");

    /** What h2 reports of h1's storage lease each second. */
    enum PeerSees { NOTHING, UNCHANGED, RENEWED }

    static Stream<Arguments> table() {
        return Stream.of(
                // h1 never reports, nothing seen of its lease: waited for, not suspected within 10 min
                Arguments.of("silent, window 10 min", -1, true, PeerSees.NOTHING, 600, List.of(Kind.BOOTING)),
                // the window ends at 60 s: suspected and fenced like any silent host; fencing fails (no result
                // arrives in this table), so it is dead once its lease, unseen since the start, counts as expired
                Arguments.of("silent, window 60 s", -1, true, PeerSees.NOTHING, 60,
                        List.of(Kind.BOOTING, Kind.SUSPECT, Kind.FENCE, Kind.DEAD)),
                // window 0: the old behaviour, suspected after the heartbeat timeout
                Arguments.of("silent, window 0", -1, true, PeerSees.NOTHING, 0,
                        List.of(Kind.SUSPECT, Kind.FENCE, Kind.DEAD)),
                // peers see its lease unrenewed for 12 s and it holds an HA VM: certainly dead, not fenced
                Arguments.of("lease unrenewed, HA VM", -1, true, PeerSees.UNCHANGED, 600,
                        List.of(Kind.BOOTING, Kind.DEAD)),
                // the same without an HA VM on it: nothing to restart, it is just waited for
                Arguments.of("lease unrenewed, no HA VM", -1, false, PeerSees.UNCHANGED, 600, List.of(Kind.BOOTING)),
                // its lease is renewed (its watchdog keeps it while the agent is stopped): alive, waited for
                Arguments.of("lease renewed", -1, true, PeerSees.RENEWED, 600, List.of(Kind.BOOTING)),
                // it reports at 30 s: from then on judged as usual, and it keeps reporting
                Arguments.of("reports at 30 s", 30, true, PeerSees.RENEWED, 600, List.of(Kind.BOOTING)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void bootWindow(String name, int h1ReportsFrom, boolean haVmOnH1, PeerSees seen, int windowSeconds,
                    List<Kind> expected) {
        HaEngine e = new HaEngine(HaEngine.Config.defaults());
        e.bootWindow(Duration.ofSeconds(windowSeconds));
        e.host("h1", true, T0);
        e.host("h2", false, T0);
        e.vm("ehr", "h1", haVmOnH1, 100, List.of());
        e.expectRunning("ehr");
        e.placer((vm, up) -> Optional.empty()); // no room anywhere: only h1's own decisions matter
        List<Kind> about = new ArrayList<>();
        long counter = 0;
        for (int s = 0; s <= 100; s++) {
            Instant now = T0.plusSeconds(s);
            if (s >= 1) {
                if (seen == PeerSees.RENEWED) {
                    counter++;
                }
                if (seen != PeerSees.NOTHING) {
                    e.lease("h1", Math.max(counter, seen == PeerSees.UNCHANGED ? 5 : 0), Set.of(), now);
                }
                e.lease("h2", s, Set.of(), now);
                e.heartbeat("h2", Set.of(), now);
            }
            if (h1ReportsFrom >= 0 && s >= h1ReportsFrom) {
                e.heartbeat("h1", haVmOnH1 ? Set.of("ehr") : Set.of(), now);
            }
            e.tick(now).stream().filter(d -> "h1".equals(d.host())).forEach(d -> about.add(d.kind()));
        }
        assertThat(about).as(name).isEqualTo(expected);
    }
}
