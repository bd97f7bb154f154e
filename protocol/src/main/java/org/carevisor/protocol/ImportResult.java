package org.carevisor.protocol;

import java.util.List;

/**
 * A verified import: the manifest the file carried and where its disks now are.
 *
 * @param manifest the manifest JSON as written at export (checksums verified)
 * @param disks    each disk: id, path relative to the storage root, format, virtual size, SHA-256
 */
public record ImportResult(String manifest, List<ImportedDisk> disks) {
    public ImportResult {
        disks = List.copyOf(disks);
    }

    /** One verified disk. */
    public record ImportedDisk(String id, String path, String format, long virtualSizeBytes, String sha256) {
    }
}
