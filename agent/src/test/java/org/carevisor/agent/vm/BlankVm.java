package org.carevisor.agent.vm;

import java.nio.file.Path;
import java.util.List;
import org.carevisor.agent.TestPki;
import org.carevisor.agent.storage.StorageService;
import org.carevisor.protocol.DiskCreateRequest;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.protocol.VmSpec;
import org.carevisor.qemu.QemuImg;

/** An agent with TLS in {@code dir} and a VM with one blank qcow2 disk, as the tests of a single start need them. */
final class BlankVm {
    private BlankVm() {
    }

    /** Provisions the agent's TLS files and returns its options: state in {@code dir/state}, storage {@code storage}. */
    static String[] agentArgs(Path dir, Path storage) throws Exception {
        Path state = dir.resolve("state");
        new TestPki(dir.resolve("ca")).provisionAgent(state.resolve("tls"));
        return new String[] {"--state-dir", state.toString(), "--storage-dir", storage.toString(), "--port", "0",
            "--accel", "tcg"};
    }

    /** Creates the VM's blank 16 MiB disk in {@code storage}. */
    static void createDisk(Path storage, String vmId) throws java.io.IOException {
        new StorageService(storage, null, new QemuImg("qemu-img"))
                .createDisk(DiskCreateRequest.blank(diskPath(vmId), "qcow2", 16L << 20));
    }

    private static String diskPath(String vmId) {
        return "vms/" + vmId + "/disk0.qcow2";
    }

    /** A VM of 32 MiB named {@code name} with the disk {@link #diskPath} and no NIC. */
    static VmSpec spec(String vmId, String name) {
        return new VmSpec(vmId, name, 1, 32, null, null,
                List.of(new DiskSpec("disk0", diskPath(vmId), "qcow2", false)), List.of(), 1);
    }
}
