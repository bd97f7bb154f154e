package org.carevisor.protocol;

/**
 * Renames a disk image within the storage root, or, with {@code copy}, writes an independent copy of it
 * (backing chain flattened) and keeps the source. The target is read-only (0444) or writable (0644).
 *
 * @param from     source path relative to the storage root
 * @param to       target path relative to the storage root; must not exist
 * @param copy     write an independent flattened copy and keep the source, instead of renaming
 * @param readOnly make the target read-only (mode 0444); otherwise it is made writable (0644)
 * @param format   the format Carevisor recorded for the image ({@code qcow2} or {@code raw}); the copy has it too
 */
public record FileMoveRequest(String from, String to, boolean copy, boolean readOnly, String format) {
}
