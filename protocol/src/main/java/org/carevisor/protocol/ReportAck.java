package org.carevisor.protocol;

import java.util.List;

/**
 * The manager's answer to a heartbeat report: the HA settings the agent needs even while it cannot reach the
 * manager. The agent keeps the last one on disk.
 *
 * @param haVms             VMs of this host under HA protection: the watchdog kills them when the host loses its
 *                          storage lease, the isolation response applies to them
 * @param isolationResponse {@code power-off} (stop the HA VMs and release them to be restarted elsewhere) or
 *                          {@code leave-running}
 * @param peers             the other hosts of this host's cluster: the agent reads and reports only their leases
 *                          (empty from a manager of the previous version: then it reads every lease file, bounded)
 */
public record ReportAck(List<String> haVms, String isolationResponse, List<String> peers) {
    public static final String POWER_OFF = "power-off";
    public static final String LEAVE_RUNNING = "leave-running";

    public ReportAck {
        haVms = haVms == null ? List.of() : List.copyOf(haVms);
        isolationResponse = isolationResponse == null ? POWER_OFF : isolationResponse;
        peers = peers == null ? List.of() : List.copyOf(peers);
    }

    /** An answer that names no peers. */
    public ReportAck(List<String> haVms, String isolationResponse) {
        this(haVms, isolationResponse, List.of());
    }
}
