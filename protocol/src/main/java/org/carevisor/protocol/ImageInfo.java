package org.carevisor.protocol;

import java.time.Instant;

/**
 * A disk image file in a host's storage.
 *
 * @param name             file name without extension
 * @param path             path relative to the storage root
 * @param format           image format reported by qemu-img
 * @param virtualSizeBytes size the guest sees
 * @param actualSizeBytes  space used on the storage
 * @param backingPath      backing file path relative to the storage root, if any
 * @param modifiedAt       file modification time
 */
public record ImageInfo(String name, String path, String format, long virtualSizeBytes, long actualSizeBytes,
                        String backingPath, Instant modifiedAt) {
}
