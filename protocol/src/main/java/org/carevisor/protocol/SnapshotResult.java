package org.carevisor.protocol;

/**
 * What an agent did with a snapshot of a running VM.
 *
 * @param tag          snapshot tag
 * @param durationMs   how long the operation took
 * @param pausedMs     how long the guest's vCPUs were stopped (0 for a disk-only snapshot)
 * @param status       the VM's state afterwards
 */
public record SnapshotResult(String tag, long durationMs, long pausedMs, VmStatus status) {
}
