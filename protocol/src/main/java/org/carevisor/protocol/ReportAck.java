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
 */
public record ReportAck(List<String> haVms, String isolationResponse) {
    public static final String POWER_OFF = "power-off";
    public static final String LEAVE_RUNNING = "leave-running";

    public ReportAck {
        haVms = haVms == null ? List.of() : List.copyOf(haVms);
        isolationResponse = isolationResponse == null ? POWER_OFF : isolationResponse;
    }
}
