package org.carevisor.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.protocol.NicSpec;
import org.carevisor.protocol.PortForward;
import org.carevisor.protocol.VmSpec;
import org.junit.jupiter.api.Test;

/**
 * Golden tests: VM spec to QEMU argv. Set UPDATE_GOLDEN=1 to rewrite the files after an intended change,
 * then review the diff.
 */
class QemuCommandLineTest {
    private static final QemuHostConfig HOST = new QemuHostConfig("qemu-system-x86_64", "tcg",
            Path.of("/srv/carevisor/storage"), "127.0.0.1", true);
    private static final VmRuntimePaths PATHS = new VmRuntimePaths(
            Path.of("/var/lib/carevisor/agent/vms/0b6f3f0e-4a8e-4c55-9a3c-2f5a4ad1c0de"));
    private static final String ID = "0b6f3f0e-4a8e-4c55-9a3c-2f5a4ad1c0de";

    @Test
    void applianceVmWithForwardedHttpPort() throws IOException {
        VmSpec spec = new VmSpec(ID, "lab-ehr-01", 1, 256, "pc", "qemu64",
                List.of(new DiskSpec("disk0", "vms/" + ID + "/disk0.qcow2", "qcow2", false)),
                List.of(new NicSpec("nic0", "52:54:00:aa:bb:01", "user",
                        List.of(new PortForward("tcp", null, 20001, 80)))), 1);
        assertGolden("appliance-vm", QemuCommandLine.build(spec, HOST, PATHS, false, single(HOST)));
    }

    @Test
    void twoDisksTwoNicsNoSandboxKvm() throws IOException {
        QemuHostConfig kvmHost = new QemuHostConfig("/usr/bin/qemu-system-x86_64", "kvm",
                Path.of("/srv/storage"), "10.1.2.3", false);
        VmSpec spec = new VmSpec(ID, "pacs,archive", 4, 8192, "pc", "host",
                List.of(new DiskSpec("disk0", "vms/a/disk0.qcow2", "qcow2", false),
                        new DiskSpec("disk1", "vms/a/data.raw", "raw", true)),
                List.of(new NicSpec("nic0", "52:54:00:00:00:01", "user",
                                List.of(new PortForward("tcp", null, 20001, 80),
                                        new PortForward("udp", "127.0.0.2", 20002, 514))),
                        new NicSpec("nic1", "52:54:00:00:00:02", "user", List.of())), 7);
        assertGolden("two-disks-two-nics", QemuCommandLine.build(spec, kvmHost, PATHS, false, single(kvmHost)));
    }

    @Test
    void noDisksNoNics() throws IOException {
        VmSpec spec = new VmSpec(ID, "empty", 1, 64, null, null, List.of(), List.of(), 1);
        assertGolden("empty-vm", QemuCommandLine.build(spec, HOST, PATHS, false, single(HOST)));
    }

    @Test
    void startFromAMemorySnapshot() throws IOException {
        VmSpec spec = new VmSpec(ID, "lab-ehr-01", 1, 256, "pc", "qemu64",
                List.of(new DiskSpec("disk0", "vms/" + ID + "/disk0.qcow2", "qcow2", false)), List.of(), 3)
                .withLoadSnapshot("7d1b8a9e-0c1f-4b52-9e1e-2f0d1c3b4a5e");
        assertGolden("load-snapshot", QemuCommandLine.build(spec, HOST, PATHS, false, single(HOST)));
        assertThatThrownBy(() -> QemuCommandLine.build(spec.withLoadSnapshot("a,b"), HOST, PATHS, false, single(HOST)))
                .hasMessageContaining("snapshot tag");
    }

    @Test
    void bridgedNicWithManagedAddressOnLocalStorageAsMigrationDestination() throws IOException {
        QemuHostConfig host = new QemuHostConfig("qemu-system-x86_64", "tcg", Path.of("/srv/carevisor/storage"),
                "127.0.0.1", true, Path.of("/var/lib/carevisor/local"));
        VmSpec spec = new VmSpec(ID, "lab-pacs-01", 2, 512, "pc", "qemu64",
                List.of(new DiskSpec("disk0", "local/vms/" + ID + "/disk0.qcow2", "qcow2", false)),
                List.of(new NicSpec("nic0", "52:54:00:aa:bb:02", "bridge", List.of(), "cvlab0", "10.77.0.100/24",
                        "10.77.0.1")), 2);
        assertGolden("bridged-incoming", QemuCommandLine.build(spec, host, PATHS, true, single(host)));
        assertThat(QemuCommandLine.tapName(ID, "nic0")).hasSize(12).startsWith("cv")
                .isNotEqualTo(QemuCommandLine.tapName(ID, "nic1"));
    }

    @Test
    void linkedCloneOnATemplateBaseGetsItsBackingNodesExplicitly() throws IOException {
        VmSpec spec = new VmSpec(ID, "lab-ehr-02", 1, 256, "pc", "qemu64",
                List.of(new DiskSpec("disk0", "vms/" + ID + "/disk0.qcow2", "qcow2", false),
                        new DiskSpec("disk1", "vms/" + ID + "/disk1.qcow2", "qcow2", false)), List.of(), 1);
        Path storage = HOST.storageRoot();
        Function<DiskSpec, ImageChain> chains = d -> d.id().equals("disk0")
                ? new ImageChain(List.of(new ImageChain.Link(HOST.resolveDisk(d.path()), "qcow2", null),
                        new ImageChain.Link(storage.resolve("templates/t1/disk0.qcow2"), "qcow2", null)))
                : new ImageChain(List.of(new ImageChain.Link(HOST.resolveDisk(d.path()), "qcow2", null),
                        new ImageChain.Link(storage.resolve("templates/t1/disk1.raw"), "raw", null)));
        List<String> argv = QemuCommandLine.build(spec, HOST, PATHS, false, chains);
        assertGolden("linked-clone", argv);
        assertThat(argv).contains("-S");
    }

    @Test
    void aChainOfAnotherFormatThanTheSpecIsRefused() {
        VmSpec spec = new VmSpec(ID, "x", 1, 64, null, null,
                List.of(new DiskSpec("disk0", "vms/a/disk0.qcow2", "qcow2", false)), List.of(), 1);
        assertThatThrownBy(() -> QemuCommandLine.build(spec, HOST, PATHS, false,
                d -> ImageChain.single(HOST.resolveDisk(d.path()), "raw"))).hasMessageContaining("raw");
    }

    /** Each disk as a stand-alone image, as Carevisor's chain check finds it for a disk without backing file. */
    private static Function<DiskSpec, ImageChain> single(QemuHostConfig host) {
        return d -> ImageChain.single(host.resolveDisk(d.path()), d.format());
    }

    @Test
    void refusesBadBridgedNics() {
        for (NicSpec bad : List.of(
                new NicSpec("nic0", "52:54:00:aa:bb:02", "bridge", List.of(), "br 0", null, null),
                new NicSpec("nic0", "52:54:00:aa:bb:02", "bridge", List.of(), null, null, null),
                new NicSpec("nic0", "52:54:00:aa:bb:02", "bridge", List.of(new PortForward("tcp", null, 1, 80)),
                        "br0", null, null),
                new NicSpec("nic0", "52:54:00:aa:bb:02", "bridge", List.of(), "br0", "10.77.0.300/24", null),
                new NicSpec("nic0", "52:54:00:aa:bb:02", "bridge", List.of(), "br0", "10.77.0.3", null),
                new NicSpec("nic0", "52:54:00:aa:bb:02", "bridge", List.of(), "br0", "10.77.0.3/24", "x,y"),
                new NicSpec("nic0", "52:54:00:aa:bb:02", "vde", List.of(), null, null, null))) {
            VmSpec spec = new VmSpec(ID, "x", 1, 64, null, null, List.of(), List.of(bad), 1);
            assertThatThrownBy(() -> QemuCommandLine.build(spec, HOST, PATHS)).as(bad.toString())
                    .isInstanceOf(QemuException.class).hasMessageContaining("NIC nic0");
        }
    }

    @Test
    void localDisksNeedLocalStorage() {
        VmSpec spec = new VmSpec(ID, "x", 1, 64, null, null,
                List.of(new DiskSpec("disk0", "local/vms/a/disk0.qcow2", "qcow2", false)), List.of(), 1);
        assertThatThrownBy(() -> QemuCommandLine.build(spec, HOST, PATHS)).hasMessageContaining("no local storage");
        QemuHostConfig host = new QemuHostConfig("q", "tcg", Path.of("/s"), null, true, Path.of("/l"));
        assertThat(host.resolveDisk("local/vms/a/disk0.qcow2")).isEqualTo(Path.of("/l/vms/a/disk0.qcow2"));
        assertThatThrownBy(() -> host.resolveDisk("local/../x")).hasMessageContaining("storage root");
    }

    @Test
    void refusesDiskPathOutsideStorage() {
        for (String bad : List.of("../etc/passwd", "/etc/passwd", "vms/../../x", "", ".")) {
            VmSpec spec = new VmSpec(ID, "x", 1, 64, null, null,
                    List.of(new DiskSpec("disk0", bad, "qcow2", false)), List.of(), 1);
            assertThatThrownBy(() -> QemuCommandLine.build(spec, HOST, PATHS))
                    .isInstanceOf(QemuException.class)
                    .hasMessageContaining("storage root");
        }
    }

    @Test
    void refusesBadMacAndIds() {
        VmSpec badMac = new VmSpec(ID, "x", 1, 64, null, null, List.of(),
                List.of(new NicSpec("nic0", "52:54:00:AA:BB", "user", List.of())), 1);
        assertThatThrownBy(() -> QemuCommandLine.build(badMac, HOST, PATHS)).hasMessageContaining("MAC");
        VmSpec badId = new VmSpec(ID, "x", 1, 64, null, null,
                List.of(new DiskSpec("0disk,x", "a.qcow2", "qcow2", false)), List.of(), 1);
        assertThatThrownBy(() -> QemuCommandLine.build(badId, HOST, PATHS)).hasMessageContaining("disk id");
    }

    @Test
    void escapesCommasInOptionValues() {
        assertThat(QemuCommandLine.escape("a,b")).isEqualTo("a,,b");
    }

    private static void assertGolden(String name, List<String> argv) throws IOException {
        Path file = Path.of("src/test/resources/golden", name + ".argv");
        String actual = String.join("\n", argv) + "\n";
        if ("1".equals(System.getenv("UPDATE_GOLDEN"))) {
            Files.writeString(file, actual, StandardCharsets.UTF_8);
        }
        assertThat(file).as("golden file %s (run with UPDATE_GOLDEN=1 to create it)", file).exists();
        assertThat(actual).isEqualTo(Files.readString(file, StandardCharsets.UTF_8));
    }
}
