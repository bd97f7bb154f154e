package org.carevisor.manager.placement;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * HA admission control: a start is refused when, with the VM running on the candidate host, some host's HA VMs
 * could no longer be restarted on the other hosts if that host failed (one host failure tolerated). Capacity is
 * memory, counted the way placement counts it (capacity after the host's reserve and the cluster's overcommit,
 * minus what is committed); free memory is added up across the surviving hosts, like vSphere's percentage-based
 * policy rather than its slot policy. Pure; table-tested in AdmissionTest.
 */
public final class Admission {
    private Admission() {
    }

    /**
     * Why placing a VM of {@code memoryMiB} (an HA VM when {@code ha}) on {@code candidate} breaks the failover
     * capacity, or empty when it does not.
     *
     * @param hosts      the cluster's hosts that can run VMs (connected, not in maintenance)
     * @param haMemory   memory of the HA VMs running on each host, by host id
     * @param overcommit the cluster's memory overcommit
     */
    public static Optional<String> refusal(String candidate, int memoryMiB, boolean ha, List<Scheduler.HostState> hosts,
                                           Map<String, Long> haMemory, double overcommit) {
        if (hosts.size() < 2) {
            return Optional.empty(); // nothing to fail over to: admission control has nothing to protect
        }
        for (Scheduler.HostState failed : hosts) {
            long needed = haMemory.getOrDefault(failed.id(), 0L) + (ha && failed.id().equals(candidate) ? memoryMiB : 0);
            if (needed == 0) {
                continue;
            }
            long spare = 0;
            for (Scheduler.HostState other : hosts) {
                if (other.id().equals(failed.id())) {
                    continue;
                }
                long free = other.memoryCapacity(overcommit) - other.committedMemoryMiB()
                        - (other.id().equals(candidate) ? memoryMiB : 0);
                spare += Math.max(0, free);
            }
            if (needed > spare) {
                return Optional.of("HA admission control: with this VM there, the HA VMs of host " + failed.name()
                        + " (" + needed + " MiB) could not restart on the other hosts (" + spare
                        + " MiB free) if " + failed.name() + " failed");
            }
        }
        return Optional.empty();
    }
}
