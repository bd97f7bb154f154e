package org.carevisor.protocol;

import com.fasterxml.jackson.annotation.JsonValue;

/** Observed state of a VM on a host. */
public enum VmState {
    STOPPED, STARTING, RUNNING, PAUSED, STOPPING, CRASHED,
    /** Running on this host while its memory is copied to another host (live migration source). */
    MIGRATING,
    /** Waiting on this host for a live migration to arrive; the guest has not run here yet. */
    INCOMING,
    /** Only used by the manager: the host that runs the VM does not report. */
    UNKNOWN;

    @JsonValue
    public String json() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** True while a QEMU process exists for the VM. */
    public boolean hasProcess() {
        return this == STARTING || this == RUNNING || this == PAUSED || this == STOPPING || this == MIGRATING
                || this == INCOMING;
    }
}
