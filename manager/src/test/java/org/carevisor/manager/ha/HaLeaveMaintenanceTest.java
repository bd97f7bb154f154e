package org.carevisor.manager.ha;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.carevisor.manager.ha.HaEngine.Decision.Kind;
import org.junit.jupiter.api.Test;

/**
 * A host that leaves maintenance while it is still switched off or booting (the technician ends maintenance in the
 * console before the host's agent is up) is waited for, not fenced the next second for its old silence. Found by
 * the fault campaign: an operator left maintenance 6 s after the host's agent had died, and HA fenced the host
 * while its new agent started.
 */
class HaLeaveMaintenanceTest {
    static final Instant T0 = Instant.parse("2026-03-01T08:00:00Z");

    private static List<Kind> run(int reportsAgainAt, int window) {
        HaEngine e = new HaEngine(HaEngine.Config.defaults());
        e.bootWindow(Duration.ofSeconds(window));
        e.host("h1", true, T0);
        e.host("h2", false, T0);
        e.placer((vm, up) -> Optional.empty());
        List<Kind> about = new ArrayList<>();
        for (int s = 0; s <= 120; s++) {
            Instant now = T0.plusSeconds(s);
            if (s == 10) {
                e.host("h1", true, true, now); // into maintenance; its agent stops at 12 s (switched off)
            }
            if (s == 30) {
                e.host("h1", true, false, now); // out of maintenance, the host still off
            }
            e.lease("h2", s, Set.of(), now);
            e.heartbeat("h2", Set.of(), now);
            if (s < 12 || reportsAgainAt >= 0 && s >= reportsAgainAt) {
                e.heartbeat("h1", Set.of(), now);
            }
            e.tick(now).stream().filter(d -> "h1".equals(d.host())).forEach(d -> about.add(d.kind()));
        }
        return about;
    }

    @Test
    void aHostThatReportsAfterLeavingMaintenanceIsNeverSuspected() {
        assertThat(run(50, 600)).containsExactly(Kind.MAINTENANCE, Kind.WATCHED, Kind.BOOTING);
    }

    @Test
    void oneThatStaysSilentIsWaitedForUntilTheBootWindowEnds() {
        assertThat(run(-1, 600)).containsExactly(Kind.MAINTENANCE, Kind.WATCHED, Kind.BOOTING);
        assertThat(run(-1, 40)).startsWith(Kind.MAINTENANCE, Kind.WATCHED, Kind.BOOTING, Kind.SUSPECT);
    }
}
