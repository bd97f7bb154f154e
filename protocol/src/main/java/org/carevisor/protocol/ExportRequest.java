package org.carevisor.protocol;

import java.util.List;

/**
 * Asks an agent to write a VM's disks and definition into one portable file: every disk is flattened into an
 * independent image, hashed, and packed with the manifest into a tar file.
 *
 * @param target   file to write, relative to the storage root; must not exist
 * @param manifest the VM definition as JSON (the agent adds the disk list and checksums)
 * @param disks    the disks to include
 */
public record ExportRequest(String target, String manifest, List<Disk> disks) {
    public ExportRequest {
        disks = List.copyOf(disks);
    }

    /** A disk to export: its path and its name inside the file. */
    public record Disk(String id, String path, String format) {
    }
}
