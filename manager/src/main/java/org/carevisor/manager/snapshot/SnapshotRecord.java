package org.carevisor.manager.snapshot;

import java.time.Instant;

/**
 * A snapshot of a VM: a point in the VM's history it can be reverted to. The data lives inside the VM's
 * qcow2 disks as an internal snapshot tagged with {@link #id()}; this record holds the tree and what must be
 * restored beside the data (vCPUs and memory at that moment).
 *
 * @param parentId     the snapshot the VM's state descended from when this one was taken (null: a root)
 * @param withMemory   memory and device state saved too: reverting resumes the guest where it was
 * @param vmWasRunning whether the VM ran when the snapshot was taken
 * @param pausedMs     how long the guest was paused to take it (memory snapshots)
 */
public record SnapshotRecord(String id, String vmId, String name, String description, String parentId,
                             boolean withMemory, boolean vmWasRunning, int cpus, int memoryMiB, Long pausedMs,
                             Instant createdAt, String createdBy) {
}
