package org.carevisor.protocol;

/**
 * Asks an agent to snapshot, revert or delete an internal snapshot of a running VM.
 *
 * @param tag    the snapshot's tag in every qcow2 disk of the VM (the manager uses the snapshot id)
 * @param memory with memory state (snapshot-save job; vCPUs pause briefly), or disk-only (atomic across disks)
 */
public record SnapshotRequest(String tag, boolean memory) {
}
