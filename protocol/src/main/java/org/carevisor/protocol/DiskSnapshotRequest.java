package org.carevisor.protocol;

import java.util.List;

/**
 * Asks an agent to create, apply (revert to) or delete an internal snapshot in disk files of a stopped VM
 * ({@code qemu-img snapshot}).
 *
 * @param paths disk paths relative to the storage root; each is a qcow2 disk (the manager refuses snapshots of a VM
 *              with a raw disk), and the agent opens it as qcow2
 * @param tag   snapshot tag
 * @param op    what to do
 */
public record DiskSnapshotRequest(List<String> paths, String tag, Op op) {
    public DiskSnapshotRequest {
        paths = List.copyOf(paths);
    }

    /** Operation on the snapshot. */
    public enum Op { CREATE, APPLY, DELETE }
}
