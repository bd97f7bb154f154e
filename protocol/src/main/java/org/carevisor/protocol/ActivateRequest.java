package org.carevisor.protocol;

/**
 * Lets the guest run on the destination once the migration stream has arrived completely.
 *
 * @param run    continue the vCPUs (false when the VM was paused on the source: it stays paused)
 * @param waitMs how long to wait for the incoming stream to complete
 */
public record ActivateRequest(boolean run, long waitMs) {
}
