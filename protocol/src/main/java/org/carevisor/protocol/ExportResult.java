package org.carevisor.protocol;

import java.util.List;

/**
 * The written export file.
 *
 * @param path      file path relative to the storage root
 * @param sizeBytes file size
 * @param sha256    SHA-256 of the whole file
 * @param disks     each disk as packed: id, member name, virtual size, SHA-256 of the member
 */
public record ExportResult(String path, long sizeBytes, String sha256, List<ExportedDisk> disks) {
    public ExportResult {
        disks = List.copyOf(disks);
    }

    /** One disk inside an export file. */
    public record ExportedDisk(String id, String file, String format, long virtualSizeBytes, long bytes, String sha256) {
    }
}
