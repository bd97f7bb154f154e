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
    /** Disk paths that start with this are on the host's local storage, others on the shared storage domain. */
    public static final String LOCAL_PREFIX = "local/";

    public DiskSpec {
        format = format == null ? "qcow2" : format;
    }
}
