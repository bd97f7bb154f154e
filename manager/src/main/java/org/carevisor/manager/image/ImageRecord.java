package org.carevisor.manager.image;

import java.time.Instant;

/**
 * A disk image in the storage's image library ({@code images/}).
 *
 * @param id               stable id, assigned when the image was first discovered
 * @param name             file name without extension; unique
 * @param path             path relative to the storage root
 * @param virtualSizeBytes size the guest sees
 * @param actualSizeBytes  space it takes on the storage
 * @param present          false when the file disappeared from the storage
 */
public record ImageRecord(String id, String name, String path, String format, long virtualSizeBytes,
                          long actualSizeBytes, boolean present, Instant discoveredAt, Instant updatedAt) {
}
