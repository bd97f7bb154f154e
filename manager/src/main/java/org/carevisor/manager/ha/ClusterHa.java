package org.carevisor.manager.ha;

import org.carevisor.protocol.ReportAck;

/**
 * A cluster's HA settings.
 *
 * @param admissionControl  refuse starts that would leave too little free capacity to restart the HA VMs of the
 *                          cluster's largest host (one host failure tolerated)
 * @param isolationResponse what an isolated host does with its HA VMs: {@code power-off} (release them to be
 *                          restarted elsewhere) or {@code leave-running}
 */
public record ClusterHa(boolean admissionControl, String isolationResponse) {
    public static ClusterHa defaults() {
        return new ClusterHa(true, ReportAck.POWER_OFF);
    }
}
