package org.carevisor.protocol;

import java.time.Duration;

/**
 * The timing contract of high availability, shared by agents and manager. The order matters and is what
 * makes restarting a VM elsewhere safe without fencing: a host kills its HA VMs ({@link #SELF_FENCE}) before
 * the manager may treat its lease as expired ({@link #LEASE_EXPIRED}), with a margin of more than one
 * renewal period and one report period for the peers to see the last renewal.
 */
public final class HaTimings {
    /** Agents renew their storage lease and read their peers' leases this often. */
    public static final Duration LEASE_RENEW = Duration.ofSeconds(1);
    /** A host whose agent has not renewed its lease for this long has its HA VMs killed by its watchdog. */
    public static final Duration SELF_FENCE = Duration.ofSeconds(7);
    /**
     * A host that has reached neither the manager nor any peer for this long is isolated: it stops its HA VMs
     * (when the cluster's isolation response says so) and names them as released in its lease.
     */
    public static final Duration ISOLATION = Duration.ofSeconds(6);
    /** The manager treats a lease not renewed for this long as certainly expired: the host's VMs are dead. */
    public static final Duration LEASE_EXPIRED = Duration.ofSeconds(12);
    /** The manager suspects a host after this long without a heartbeat. */
    public static final Duration HEARTBEAT_TIMEOUT = Duration.ofSeconds(5);

    /** The directory of lease files, relative to the storage domain's root. */
    public static final String LEASE_DIR = ".carevisor/leases";

    private HaTimings() {
    }
}
