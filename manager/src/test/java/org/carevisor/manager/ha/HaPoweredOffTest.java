package org.carevisor.manager.ha;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.carevisor.manager.ha.HaEngine.Decision;
import org.carevisor.manager.ha.HaEngine.Decision.Kind;
import org.junit.jupiter.api.Test;

/**
 * A host switched off by an orderly site shutdown, with its HA VM stopped in order: never suspected, fenced or
 * declared dead (a fence agent is configured), its VM is not restarted elsewhere, and once it reports again it is
 * watched as before: a later silence makes it suspect.
 */
class HaPoweredOffTest {
    static final Instant T0 = HaStoppedInOrderTest.T0;

    @Test
    void aHostSwitchedOffByTheSiteShutdownIsLeftAloneUntilItReports() {
        HaEngine e = new HaEngine(HaEngine.Config.defaults());
        e.host("h1", true, false, T0);
        e.host("h2", true, false, T0);
        e.vm("ehr", "h1", true, 100, List.of());
        e.placer((vm, up) -> up.stream().filter(h -> !h.equals("h1")).findFirst());
        HaStoppedInOrderTest.run(e, 0, 5, true, Set.of("ehr"), Set.of());
        HaStoppedInOrderTest.run(e, 6, 10, true, Set.of(), Set.of("ehr"));
        e.poweredOff("h1", true);
        List<Decision> off = HaStoppedInOrderTest.run(e, 11, 600, false, Set.of(), Set.of());
        assertThat(off).extracting(Decision::kind).containsExactly(Kind.MAINTENANCE);
        assertThat(off.get(0).detail()).contains("switched off by the site shutdown");
        assertThat(e.vmState("ehr").needsRestart()).isFalse();
        // back: reports again, unmarked, watched again
        List<Decision> back = new ArrayList<>(HaStoppedInOrderTest.run(e, 601, 602, true, Set.of(), Set.of("ehr")));
        e.poweredOff("h1", false);
        back.addAll(HaStoppedInOrderTest.run(e, 603, 610, true, Set.of("ehr"), Set.of()));
        assertThat(back).extracting(Decision::kind).contains(Kind.WATCHED).doesNotContain(Kind.FENCE, Kind.DEAD);
        List<Decision> later = HaStoppedInOrderTest.run(e, 611, 640, false, Set.of(), Set.of());
        assertThat(later).extracting(Decision::kind).contains(Kind.SUSPECT, Kind.FENCE);
    }
}
