package org.carevisor.manager.ha;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.carevisor.manager.ha.HaEngine.Decision;
import org.carevisor.manager.ha.HaEngine.Decision.Kind;
import org.junit.jupiter.api.Test;

/**
 * An HA VM its host shut down in order (site or host shutdown) is not lost: HA neither restarts it elsewhere nor
 * counts a restart; it watches it again once it runs, and restarts it elsewhere if its host dies meanwhile.
 */
class HaStoppedInOrderTest {
    static final Instant T0 = Instant.parse("2026-03-01T08:00:00Z");

    private static HaEngine engine() {
        HaEngine e = new HaEngine(HaEngine.Config.defaults());
        e.host("h1", false, T0);
        e.host("h2", false, T0);
        e.vm("ehr", "h1", true, 100, List.of());
        e.placer((vm, up) -> up.stream().filter(h -> !h.equals("h1")).findFirst());
        return e;
    }

    /** Seconds {@code from}..{@code to} of h1 (alive or silent) and h2, each second's heartbeats and tick. */
    static List<Decision> run(HaEngine e, int from, int to, boolean h1Alive, Set<String> h1Runs,
                                      Set<String> h1StoppedInOrder) {
        List<Decision> out = new ArrayList<>();
        for (int s = from; s <= to; s++) {
            Instant now = T0.plusSeconds(s);
            e.lease("h2", 1000 + s, Set.of(), now);
            out.addAll(e.heartbeat("h2", Set.of(), now));
            if (h1Alive) {
                e.lease("h1", 1000 + s, Set.of(), now);
                out.addAll(e.heartbeat("h1", h1Runs, h1StoppedInOrder, now));
            }
            out.addAll(e.tick(now));
        }
        return out;
    }

    @Test
    void stoppedInOrderIsNeitherLostNorRestartedElsewhere() {
        HaEngine e = engine();
        run(e, 0, 5, true, Set.of("ehr"), Set.of());
        List<Decision> d = run(e, 6, 60, true, Set.of(), Set.of("ehr"));
        assertThat(d).extracting(Decision::kind).containsExactly(Kind.STOPPED_IN_ORDER);
        assertThat(d.get(0).vm()).isEqualTo("ehr");
        assertThat(e.vmState("ehr").needsRestart()).isFalse();
        // started again on its host: watched as before, a later crash is a loss again
        assertThat(run(e, 61, 70, true, Set.of("ehr"), Set.of())).isEmpty();
        assertThat(run(e, 71, 72, true, Set.of(), Set.of())).extracting(Decision::kind).contains(Kind.LOST);
    }

    @Test
    void itsHostDyingMeanwhileRestartsItElsewhere() {
        HaEngine e = engine();
        run(e, 0, 5, true, Set.of("ehr"), Set.of());
        run(e, 6, 10, true, Set.of(), Set.of("ehr"));
        List<Decision> d = run(e, 11, 40, false, Set.of(), Set.of());
        assertThat(d).extracting(x -> x.kind() + " " + Optional.ofNullable(x.host()).orElse("-"))
                .containsSubsequence("SUSPECT h1", "DEAD h1", "RESTART h2");
    }
}
