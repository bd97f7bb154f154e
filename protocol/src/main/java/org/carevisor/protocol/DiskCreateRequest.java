package org.carevisor.protocol;

/**
 * Asks an agent to create a disk image in its storage.
 *
 * @param path         target path relative to the storage root; must not exist
 * @param format       {@code qcow2} or {@code raw}
 * @param sizeBytes    virtual size; 0 keeps the source's size
 * @param sourcePath   source image relative to the storage root, for COPY and LINKED
 * @param sourceFormat the format Carevisor recorded for the source image ({@code qcow2} or {@code raw}), for COPY
 *                     and LINKED: the agent never guesses it
 * @param mode         how the disk is made
 */
public record DiskCreateRequest(String path, String format, long sizeBytes, String sourcePath, String sourceFormat,
                                Mode mode) {
    /** How a disk is made. */
    public enum Mode {
        /** An empty disk of the given size. */
        BLANK,
        /** An independent copy of the source. */
        COPY,
        /** A qcow2 overlay whose backing file is the source, a template base image in {@code templates/}. */
        LINKED
    }

    /** An empty disk. */
    public static DiskCreateRequest blank(String path, String format, long sizeBytes) {
        return new DiskCreateRequest(path, format, sizeBytes, null, null, Mode.BLANK);
    }
}
