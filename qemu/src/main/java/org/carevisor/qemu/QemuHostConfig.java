package org.carevisor.qemu;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Host-side facts the QEMU command line depends on.
 *
 * @param qemuBinary     path or name of qemu-system-x86_64
 * @param accelerator    {@code kvm} or {@code tcg}
 * @param storageRoot    directory that disk paths in a spec are relative to
 * @param forwardAddress host address that forwarded guest ports listen on
 * @param sandbox        whether to enable QEMU's seccomp sandbox
 * @param localStorageRoot directory that disk paths starting with {@code local/} are relative to: storage of
 *                       this host only (null: this host has no local storage)
 */
public record QemuHostConfig(String qemuBinary, String accelerator, Path storageRoot, String forwardAddress,
                             boolean sandbox, Path localStorageRoot) {
    /** The prefix of disk paths on the host's local storage. */
    public static final String LOCAL_PREFIX = org.carevisor.protocol.DiskSpec.LOCAL_PREFIX;

    public QemuHostConfig {
        Objects.requireNonNull(qemuBinary, "qemuBinary");
        Objects.requireNonNull(accelerator, "accelerator");
        Objects.requireNonNull(storageRoot, "storageRoot");
        forwardAddress = forwardAddress == null ? "127.0.0.1" : forwardAddress;
    }

    /** A host without local storage. */
    public QemuHostConfig(String qemuBinary, String accelerator, Path storageRoot, String forwardAddress,
                          boolean sandbox) {
        this(qemuBinary, accelerator, storageRoot, forwardAddress, sandbox, null);
    }

    /**
     * The file a spec's disk path names: {@code local/...} on the local storage, anything else on the shared
     * storage root. Refuses paths that leave their root.
     */
    public Path resolveDisk(String relative) {
        return QemuCommandLine.resolveDisk(storageRoot, localStorageRoot, relative);
    }
}
