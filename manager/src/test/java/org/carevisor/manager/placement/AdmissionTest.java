package org.carevisor.manager.placement;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class AdmissionTest {
    /** A connected host with {@code memory} MiB (no reserve) of which {@code committed} are used. */
    private static Scheduler.HostState host(String id, long memory, long committed) {
        return new Scheduler.HostState(id, id, "c", true, false, false, 8, memory, 0, "d", Set.of(), Set.of(),
                List.of("qemu64"), 0, committed, memory - committed);
    }

    @Test
    void aStartThatLeavesRoomForEveryHostsHaVmsIsAdmitted() {
        var hosts = List.of(host("h1", 4096, 1024), host("h2", 4096, 1024), host("h3", 4096, 0));
        // h1 runs 1024 MiB of HA VMs; the others have 3072 + 4096 free
        assertThat(Admission.refusal("h3", 2048, false, hosts, Map.of("h1", 1024L), 1.0)).isEmpty();
    }

    @Test
    void aStartThatEatsTheFailoverReserveIsRefusedNamingTheHostAndTheFigures() {
        var hosts = List.of(host("h1", 4096, 3072), host("h2", 4096, 1024));
        // h1's 3072 MiB of HA VMs need h2's 3072 MiB free; another 1024 MiB VM on h2 breaks that
        assertThat(Admission.refusal("h2", 1024, false, hosts, Map.of("h1", 3072L), 1.0)).hasValueSatisfying(r ->
                assertThat(r).contains("HA VMs of host h1 (3072 MiB)").contains("(2048 MiB free)"));
        // the same VM fits on h1 itself only if h1 has room - placement checks that; admission does not object
        assertThat(Admission.refusal("h1", 512, false, hosts, Map.of("h1", 3072L), 1.0)).isEmpty();
    }

    @Test
    void anHaVmCountsOnItsOwnHostToo() {
        var hosts = List.of(host("h1", 4096, 0), host("h2", 4096, 3584));
        // a 1024 MiB HA VM on h1 would need 1024 MiB on h2, which has 512 free
        assertThat(Admission.refusal("h1", 1024, true, hosts, Map.of(), 1.0)).hasValueSatisfying(r ->
                assertThat(r).contains("host h1 (1024 MiB)"));
        assertThat(Admission.refusal("h1", 1024, false, hosts, Map.of(), 1.0)).isEmpty();
    }

    @Test
    void overcommitAndReserveCountLikePlacementAndASingleHostHasNothingToProtect() {
        var reserved = new Scheduler.HostState("h2", "h2", "c", true, false, false, 8, 4096, 2048, "d", Set.of(),
                Set.of(), List.of("qemu64"), 0, 0, 4096);
        var hosts = List.of(host("h1", 4096, 2048), reserved);
        assertThat(Admission.refusal("h1", 256, false, hosts, Map.of("h1", 2048L), 1.0)).isEmpty();
        assertThat(Admission.refusal("h1", 256, false, hosts, Map.of("h1", 2049L), 1.0)).isPresent();
        assertThat(Admission.refusal("h1", 256, false, hosts, Map.of("h1", 3000L), 1.5)).isEmpty();
        assertThat(Admission.refusal("h1", 4000, true, List.of(host("h1", 4096, 0)), Map.of(), 1.0)).isEmpty();
    }
}
