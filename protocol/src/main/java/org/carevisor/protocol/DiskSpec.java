package org.carevisor.protocol;

/**
 * One virtual disk of a VM.
 *
 * @param id       disk id, unique within the VM
 * @param path     image path relative to the storage root
 * @param format   {@code qcow2} or {@code raw}
 * @param readOnly attach read-only
 */
public record DiskSpec(String id, String path, String format, boolean readOnly) {
    public DiskSpec {
        format = format == null ? "qcow2" : format;
    }
}
