package org.carevisor.protocol;

import com.fasterxml.jackson.annotation.JsonValue;

/** Why a VM's QEMU process ended (and, for {@link #NO_SPACE}, why a running QEMU is paused). */
public enum StopCause {
    /** The guest powered itself off. */
    GUEST,
    /** A shutdown or power-off the manager asked for. */
    REQUESTED,
    /** The agent stopped all VMs because its host is shutting down. */
    HOST_SHUTDOWN,
    /** QEMU died unexpectedly (signal, error, vanished while the agent ran). */
    CRASH,
    /**
     * QEMU was gone without an exit status when the agent started: the host lost power, rebooted or all its
     * processes were killed (e.g. fenced) with the VM running. Not the guest's fault: started again when the host
     * is back.
     */
    HOST_LOST,
    /** QEMU could not start. */
    START_FAILED,
    /** The VM was live-migrated to another host; this host's process ended after the hand-over. */
    MIGRATED,
    /** A live migration to this host did not complete; the destination process ended before the guest ran. */
    MIGRATION_ABORTED,
    /** HA isolation response: the host reached neither the manager nor a peer and released the VM. */
    ISOLATION,
    /** HA self-fencing: the host's watchdog killed the VM because the host's storage lease was not renewed. */
    SELF_FENCE,
    /**
     * Not an end: QEMU paused the VM because a disk write found the storage full (the write waits, the guest sees no
     * error); the host resumes it once space is free again, so nothing else resumes it meanwhile.
     */
    NO_SPACE;

    @JsonValue
    public String json() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
