package org.carevisor.agent.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.carevisor.agent.Agent;
import org.carevisor.agent.AgentConfig;
import org.carevisor.agent.AgentException;
import org.carevisor.agent.TestPki;
import org.carevisor.agent.vm.VmSupervisor;
import org.carevisor.protocol.DiskCreateRequest;
import org.carevisor.protocol.DiskSnapshotRequest;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.protocol.ExportRequest;
import org.carevisor.protocol.FileMoveRequest;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmSpec;
import org.carevisor.protocol.VmState;
import org.carevisor.qemu.ProcessRunner;
import org.carevisor.qemu.QemuImg;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review item 2 with the real agent, real qemu-img and real QEMU (TCG): a guest that writes a qcow2 header (backing
 * file: a host file) or a VMDK text descriptor (FLAT extent: a host file) into its raw disk, and a rogue writer of
 * the shared storage that points a qcow2 disk's header at a host file or a {@code json:} pseudo-file. Every
 * operation - export, archive, template creation (rename and flatten), full and linked clone, snapshot, VM start -
 * either treats the raw disk as raw or refuses clearly; the host file's canary never appears in any file of the
 * storage, and no QEMU opens it. One agent serves the whole class; every QEMU it starts is stopped.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ImageProbingAttackTest {
    private static final long DISK = 8L << 20;

    Path dir;
    Path storageDir;
    Path state;
    Path hostFile;
    String canary;
    Agent agent;
    StorageService storage;
    final List<Long> qemus = new ArrayList<>();

    @BeforeAll
    void setUp(@TempDir Path tempDir) throws Exception {
        dir = tempDir;
        storageDir = dir.resolve("storage");
        state = dir.resolve("state");
        new TestPki(dir.resolve("ca")).provisionAgent(state.resolve("tls"));
        canary = "CANARY-HOST-FILE-" + UUID.randomUUID();
        hostFile = dir.resolve("host/secret.txt");
        Files.createDirectories(hostFile.getParent());
        Files.writeString(hostFile, (canary + "\n").repeat(20_000));
        agent = Agent.start(AgentConfig.parse(new String[] {"--state-dir", state.toString(), "--storage-dir",
            storageDir.toString(), "--port", "0", "--accel", "tcg"}, Map.of()));
        storage = new StorageService(storageDir, null, new QemuImg("qemu-img"));
    }

    @AfterEach
    void noQemuLeft() {
        qemus.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        qemus.clear();
    }

    @AfterAll
    void tearDown() throws Exception {
        try {
            try (Stream<Path> files = Files.walk(storageDir)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    assertThat(contains(f, canary)).as("the host file's canary in %s", f).isFalse();
                }
            }
        } finally {
            agent.closeAndStopWatchdog();
            org.carevisor.agent.ha.Watchdog.stopAny(state, Duration.ofSeconds(5));
        }
    }

    // ------------------------------------------------------------------ what a guest writes into its raw disk

    /** A raw disk whose first bytes are a qcow2 header with the host file as (raw) backing file. */
    private String rawWithQcow2Header() throws IOException {
        Path header = dir.resolve("header-" + UUID.randomUUID() + ".qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", hostFile.toString(), "-F", "raw",
                header.toString(), Long.toString(DISK));
        return rawDisk(Files.readAllBytes(header));
    }

    /** A raw disk whose first bytes are a VMDK text descriptor with a FLAT extent on the host file. */
    private String rawWithVmdkDescriptor() throws IOException {
        return rawDisk(("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
                + "createType=\"monolithicFlat\"\n\nRW 16384 FLAT \"" + hostFile + "\" 0\n")
                .getBytes(StandardCharsets.US_ASCII));
    }

    private String rawDisk(byte[] start) throws IOException {
        String path = "vms/" + UUID.randomUUID() + "/disk0.raw";
        storage.createDisk(DiskCreateRequest.blank(path, "raw", DISK));
        try (FileChannel ch = FileChannel.open(storageDir.resolve(path), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(start), 0);
        }
        // the attack is real: a qemu-img left to probe reads the host file through it
        Path probed = dir.resolve("probed-" + UUID.randomUUID() + ".raw");
        run("qemu-img", "convert", "-O", "raw", storageDir.resolve(path).toString(), probed.toString());
        assertThat(contains(probed, canary)).as("probing qemu-img leaks the host file").isTrue();
        Files.delete(probed);
        return path;
    }

    @Test
    void aRawDiskWithAQcow2HeaderIsOnlyEverRaw() throws Exception {
        everyOperationTreatsTheDiskAsRaw(rawWithQcow2Header(), "qcow2");
    }

    @Test
    void aRawDiskWithAVmdkDescriptorIsOnlyEverRaw() throws Exception {
        everyOperationTreatsTheDiskAsRaw(rawWithVmdkDescriptor(), "vmdk");
    }

    private void everyOperationTreatsTheDiskAsRaw(String disk, String looksLike) throws Exception {
        // the VM itself starts with its raw disk, and QEMU opens nothing but it
        vmRunsWithoutTheHostFile(new DiskSpec("disk0", disk, "raw", false));

        // full clones, to raw and to qcow2
        for (String format : List.of("raw", "qcow2")) {
            String clone = "vms/" + UUID.randomUUID() + "/disk0." + format;
            storage.createDisk(new DiskCreateRequest(clone, format, 0, disk, "raw", DiskCreateRequest.Mode.COPY));
            assertThat(contains(storageDir.resolve(clone), canary)).isFalse();
        }

        // export and archive refuse it: a tool outside Carevisor that guesses formats would take it for a looksLike
        for (String target : List.of("exports/" + UUID.randomUUID() + ".cva", "archive/" + UUID.randomUUID() + ".cva")) {
            AgentException e = catchAgent(() -> storage.export(new ExportRequest(target, "{\"vm\":{}}",
                    List.of(new ExportRequest.Disk("disk0", disk, "raw")))));
            assertThat(e.status()).isEqualTo(422);
            assertThat(e.code()).isEqualTo("disk-image-refused");
            assertThat(e.getMessage()).contains("disk0").contains("starts like a " + looksLike);
            assertThat(storageDir.resolve(target)).doesNotExist();
        }

        // template creation: flattened copy and rename, then linked and full clones of the base
        String template = "templates/" + UUID.randomUUID();
        storage.move(new FileMoveRequest(disk, template + "/flat.raw", true, true, "raw"));
        assertThat(contains(storageDir.resolve(template + "/flat.raw"), canary)).isFalse();
        storage.move(new FileMoveRequest(disk, template + "/disk0.raw", false, true, "raw"));
        String base = template + "/disk0.raw";
        String linked = "vms/" + UUID.randomUUID() + "/disk0.qcow2";
        storage.createDisk(new DiskCreateRequest(linked, "qcow2", 0, base, "raw", DiskCreateRequest.Mode.LINKED));
        String full = "vms/" + UUID.randomUUID() + "/disk0.qcow2";
        storage.createDisk(new DiskCreateRequest(full, "qcow2", 0, base, "raw", DiskCreateRequest.Mode.COPY));
        assertThat(contains(storageDir.resolve(full), canary)).isFalse();

        // the linked clone starts with its raw base; flattening and exporting it copy the base's bytes as raw
        vmRunsWithoutTheHostFile(new DiskSpec("disk0", linked, "qcow2", false));
        String flat = template + "/from-linked.qcow2";
        storage.move(new FileMoveRequest(linked, flat, true, true, "qcow2"));
        assertThat(contains(storageDir.resolve(flat), canary)).isFalse();
        String export = "exports/" + UUID.randomUUID() + ".cva";
        storage.export(new ExportRequest(export, "{\"vm\":{}}", List.of(new ExportRequest.Disk("disk0", linked,
                "qcow2"))));
        assertThat(contains(storageDir.resolve(export), canary)).isFalse();
    }

    // ------------------------------------------------------------------ what a rogue writer of the storage writes

    /** A qcow2 disk in vms/ whose header names {@code backing} (of format raw) as its backing file. */
    private String rogueQcow2(String backing) {
        String path = "vms/" + UUID.randomUUID() + "/disk0.qcow2";
        Path file = storageDir.resolve(path);
        try {
            Files.createDirectories(file.getParent());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", "raw", file.toString(),
                Long.toString(DISK));
        return path;
    }

    @Test
    void aQcow2DiskBackedByAHostFileIsRefusedEverywhere() throws Exception {
        everyOperationRefuses(rogueQcow2(hostFile.toString()), hostFile.toString());
        everyOperationRefuses(rogueQcow2("../../../host/secret.txt"), "../../../host/secret.txt");
    }

    @Test
    void aJsonPseudoFileNameIsRefusedEverywhere() throws Exception {
        String json = "json:{\"driver\":\"raw\",\"file\":{\"driver\":\"file\",\"filename\":\"" + hostFile + "\"}}";
        everyOperationRefuses(rogueQcow2(json), "json:");
    }

    @Test
    void aTemplateBaseBackedByAHostFileIsRefusedForLinkedClones() throws Exception {
        String rogue = rogueQcow2(hostFile.toString());
        String base = "templates/" + UUID.randomUUID() + "/disk0.qcow2";
        Files.createDirectories(storageDir.resolve(base).getParent());
        Files.move(storageDir.resolve(rogue), storageDir.resolve(base));
        for (DiskCreateRequest.Mode mode : DiskCreateRequest.Mode.values()) {
            if (mode == DiskCreateRequest.Mode.BLANK) {
                continue;
            }
            String target = "vms/" + UUID.randomUUID() + "/disk0.qcow2";
            refused(() -> storage.createDisk(new DiskCreateRequest(target, "qcow2", 0, base, "qcow2", mode)),
                    hostFile.toString());
            assertThat(storageDir.resolve(target)).doesNotExist();
        }
        // and a linked clone of anything but a template base is refused before any header is read
        String target = "vms/" + UUID.randomUUID() + "/disk0.qcow2";
        String plain = "vms/" + UUID.randomUUID() + "/disk0.qcow2";
        storage.createDisk(DiskCreateRequest.blank(plain, "qcow2", DISK));
        assertThat(catchAgent(() -> storage.createDisk(new DiskCreateRequest(target, "qcow2", 0, plain, "qcow2",
                DiskCreateRequest.Mode.LINKED))).code()).isEqualTo("invalid-backing");
    }

    private void everyOperationRefuses(String disk, String badName) throws Exception {
        VmSpec spec = spec(new DiskSpec("disk0", disk, "qcow2", false));
        VmSupervisor vm = agent.vms().forStart(spec.id());
        AgentException start = refused(() -> vm.start(spec), badName);
        assertThat(start.getMessage()).contains("disk disk0 of VM " + spec.id());
        assertThat(vm.status().state()).isEqualTo(VmState.STOPPED);
        assertThat(vm.status().pid()).isNull();
        agent.vms().undefine(spec.id());

        String clone = "vms/" + UUID.randomUUID() + "/disk0.qcow2";
        refused(() -> storage.createDisk(new DiskCreateRequest(clone, "qcow2", 0, disk, "qcow2",
                DiskCreateRequest.Mode.COPY)), badName);
        assertThat(storageDir.resolve(clone)).doesNotExist();
        String template = "templates/" + UUID.randomUUID();
        refused(() -> storage.move(new FileMoveRequest(disk, template + "/disk0.qcow2", true, true, "qcow2")), badName);
        refused(() -> storage.move(new FileMoveRequest(disk, template + "/disk0.qcow2", false, true, "qcow2")), badName);
        assertThat(storageDir.resolve(disk)).exists();
        assertThat(storageDir.resolve(template + "/disk0.qcow2")).doesNotExist();
        for (DiskSnapshotRequest.Op op : DiskSnapshotRequest.Op.values()) {
            refused(() -> storage.diskSnapshot(new DiskSnapshotRequest(List.of(disk), "s1", op)), badName);
        }
        String export = "exports/" + UUID.randomUUID() + ".cva";
        refused(() -> storage.export(new ExportRequest(export, "{\"vm\":{}}",
                List.of(new ExportRequest.Disk("disk0", disk, "qcow2")))), badName);
        assertThat(storageDir.resolve(export)).doesNotExist();
        // read as what it is not: a qcow2 recorded as raw is opened as raw and is harmless
        String copy = "vms/" + UUID.randomUUID() + "/disk0.raw";
        storage.createDisk(new DiskCreateRequest(copy, "raw", 0, disk, "raw", DiskCreateRequest.Mode.COPY));
        assertThat(contains(storageDir.resolve(copy), canary)).isFalse();
    }

    // ------------------------------------------------------------------ helpers

    private void vmRunsWithoutTheHostFile(DiskSpec disk) throws Exception {
        VmSpec spec = spec(disk);
        VmSupervisor vm = agent.vms().forStart(spec.id());
        try {
            assertThat(vm.start(spec).state()).isEqualTo(VmState.RUNNING);
            long pid = vm.status().pid();
            qemus.add(pid);
            List<String> opened = new ArrayList<>();
            try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
                for (Path fd : fds.toList()) {
                    try {
                        opened.add(Files.readSymbolicLink(fd).toString());
                    } catch (IOException gone) {
                        // closed meanwhile
                    }
                }
            }
            assertThat(opened).contains(storageDir.resolve(disk.path()).toString())
                    .noneMatch(f -> f.contains("secret"));
        } finally {
            vm.powerOff(StopCause.REQUESTED, "test done");
            Poll.until(Duration.ofSeconds(20), "QEMU to stop", () -> !vm.hasProcess());
            agent.vms().undefine(spec.id());
        }
    }

    private static VmSpec spec(DiskSpec disk) {
        return new VmSpec(UUID.randomUUID().toString(), "probe", 1, 32, null, null, List.of(disk), List.of(), 1);
    }

    private static AgentException refused(ThrowingRunnable r, String badName) {
        AgentException e = catchAgent(r);
        assertThat(e.status()).as(e.getMessage()).isEqualTo(422);
        assertThat(e.code()).as(e.getMessage()).isEqualTo("backing-file-refused");
        assertThat(e.getMessage()).contains(badName);
        return e;
    }

    private static AgentException catchAgent(ThrowingRunnable r) {
        Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> r.run());
        assertThat(t).isInstanceOf(AgentException.class);
        return (AgentException) t;
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    private static boolean contains(Path file, String needle) throws IOException {
        byte[] n = needle.getBytes(StandardCharsets.US_ASCII);
        byte[] data = Files.readAllBytes(file);
        outer:
        for (int i = 0; i + n.length <= data.length; i++) {
            for (int j = 0; j < n.length; j++) {
                if (data[i + j] != n[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private static void run(String... argv) {
        ProcessRunner.Result r = ProcessRunner.run(List.of(argv), Duration.ofSeconds(60));
        if (!r.ok()) {
            throw new AssertionError(String.join(" ", argv) + ": " + r.stderr());
        }
    }
}
