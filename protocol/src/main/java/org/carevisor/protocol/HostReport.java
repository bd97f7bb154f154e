package org.carevisor.protocol;

import java.time.Instant;
import java.util.List;

/**
 * The heartbeat an agent sends to the manager: its inventory and the state of every VM it knows.
 *
 * @param inventory      host inventory
 * @param vms            every VM the agent runs or recently ran
 * @param sequence       increases with every report of this agent process
 * @param sentAt         when the agent built it, taken just before it looked at its VMs (never later than the
 *                       VM states it carries)
 * @param agentStartedAt when this agent process started (a change means the agent restarted)
 * @param leases         the storage leases of all hosts sharing this host's storage, as just read (HA)
 */
public record HostReport(HostInventory inventory, List<VmStatus> vms, long sequence, Instant sentAt,
                         Instant agentStartedAt, List<LeaseSeen> leases) {
    public HostReport {
        vms = vms == null ? List.of() : List.copyOf(vms);
        leases = leases == null ? List.of() : List.copyOf(leases);
    }

    /** A report without lease observations. */
    public HostReport(HostInventory inventory, List<VmStatus> vms, long sequence, Instant sentAt,
                      Instant agentStartedAt) {
        this(inventory, vms, sequence, sentAt, agentStartedAt, List.of());
    }
}
