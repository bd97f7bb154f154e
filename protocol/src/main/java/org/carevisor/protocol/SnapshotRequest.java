package org.carevisor.protocol;

/**
 * Asks an agent to snapshot, revert or delete an internal snapshot of a running VM.
 *
 * @param tag    the snapshot's tag in every qcow2 disk of the VM (the manager uses the snapshot id)
 * @param memory with memory state (snapshot-save job; vCPUs pause briefly), or disk-only (atomic across disks)
 * @param name   the snapshot's name as people know it, for the VM's state reason only (optional; the agent shows
 *               the tag instead when it is missing or not plain text of at most 100 characters)
 */
public record SnapshotRequest(String tag, boolean memory, String name) {
    /** The name to show in a state reason: {@code name} when it is plain printable text, else the tag. */
    public String shown() {
        return name != null && !name.isBlank() && name.length() <= 100 && name.codePoints().noneMatch(
                c -> Character.isISOControl(c) || c == 0x1b) ? "'" + name + "'" : tag;
    }
}
