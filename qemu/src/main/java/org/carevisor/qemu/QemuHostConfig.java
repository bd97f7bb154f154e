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
 */
public record QemuHostConfig(String qemuBinary, String accelerator, Path storageRoot, String forwardAddress,
                             boolean sandbox) {
    public QemuHostConfig {
        Objects.requireNonNull(qemuBinary, "qemuBinary");
        Objects.requireNonNull(accelerator, "accelerator");
        Objects.requireNonNull(storageRoot, "storageRoot");
        forwardAddress = forwardAddress == null ? "127.0.0.1" : forwardAddress;
    }
}
