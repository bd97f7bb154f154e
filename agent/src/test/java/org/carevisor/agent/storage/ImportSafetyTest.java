package org.carevisor.agent.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.ExportRequest;
import org.carevisor.protocol.ImportRequest;
import org.carevisor.protocol.ImportResult;
import org.carevisor.qemu.ProcessRunner;
import org.carevisor.qemu.QemuImg;
import org.carevisor.testkit.CraftedExport;
import org.carevisor.testkit.CraftedExport.Disk;
import org.carevisor.testkit.CraftedExport.Member;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crafted export files against the real storage service and real qemu-img: every trick is refused with
 * {@code invalid-export} (or the path code) naming what is wrong, and afterwards nothing was written outside
 * the storage, no disk directory exists and no scratch directory is left.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ImportSafetyTest {
    private static final String VM = "0f0e0d0c-0b0a-4909-8807-060504030201";
    private static final String TARGET = "vms/" + VM;

    Path dir;
    Path root;
    Path canary;
    StorageService storage;
    byte[] qcow2;
    long qcow2Virtual = 1L << 20;

    @BeforeAll
    void setUp(@TempDir Path tempDir) throws Exception {
        dir = tempDir;
        root = dir.resolve("storage");
        canary = dir.resolve("canary");
        Files.createDirectories(canary);
        storage = new StorageService(root, null, new QemuImg("qemu-img"));
        Files.createDirectories(root.resolve("exports"));
        Path img = dir.resolve("plain.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", img.toString(), "1M");
        qcow2 = Files.readAllBytes(img);
    }

    @AfterEach
    void nothingLeft() throws IOException {
        assertThat(list(canary)).as("files outside the storage").isEmpty();
        assertThat(root.resolve(TARGET)).doesNotExist();
        try (Stream<Path> s = Files.walk(root)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".import-")
                    || n.startsWith(".inspect-") || n.startsWith(".export-"))).as("scratch left").isEmpty();
        }
        try (Stream<Path> s = Files.list(root.resolve("exports"))) {
            for (Path p : s.toList()) {
                Files.delete(p);
            }
        }
    }

    private ObjectNode manifest(List<Disk> disks) {
        return CraftedExport.manifestFor(VM, "crafted", disks);
    }

    private Disk disk0() {
        return new Disk("disk0", "qcow2", qcow2Virtual, qcow2);
    }

    private String write(CraftedExport export) throws IOException {
        export.write(root.resolve("exports/crafted.cva"));
        return "exports/crafted.cva";
    }

    private AgentException refused(String file) {
        try {
            storage.importFile(new ImportRequest(file, TARGET));
        } catch (AgentException e) {
            return e;
        } catch (IOException e) {
            throw new AssertionError("an I/O error instead of a refusal", e);
        }
        throw new AssertionError("the import of " + file + " was accepted");
    }

    @Test
    void aWellFormedCraftedFileIsImported() throws Exception {
        String file = write(new CraftedExport().manifest(manifest(List.of(disk0()))).file("disks/disk0.qcow2", qcow2));
        assertThat(storage.inspect(new ImportRequest(file, null)).manifest()).contains("crafted");
        ImportResult r = storage.importFile(new ImportRequest(file, TARGET));
        assertThat(r.disks()).extracting(ImportResult.ImportedDisk::path).containsExactly(TARGET + "/disk0.qcow2");
        assertThat(Files.readAllBytes(root.resolve(TARGET + "/disk0.qcow2"))).isEqualTo(qcow2);
        storage.deleteVmDisks(VM);
    }

    @Test
    void exportThenImportRoundTrips() throws Exception {
        Path disk = root.resolve("vms/" + VM + "-src/disk0.qcow2");
        Files.createDirectories(disk.getParent());
        Files.write(disk, qcow2);
        storage.export(new ExportRequest("exports/round-trip.cva", "{\"vm\":{\"name\":\"x\"}}",
                List.of(new ExportRequest.Disk("disk0", "vms/" + VM + "-src/disk0.qcow2", "qcow2"))));
        ImportResult r = storage.importFile(new ImportRequest("exports/round-trip.cva", TARGET));
        assertThat(r.disks()).hasSize(1);
        storage.deleteVmDisks(VM);
        storage.delete("vms/" + VM + "-src");
    }

    @Test
    void pathTraversalInEveryManifestFieldIsRefused() throws Exception {
        for (String[] field : new String[][] {{"id", "../../../../" + canary.toString().substring(1) + "/x"},
                {"id", "/tmp/x"}, {"format", "qcow2/../../../x"}, {"format", "vmdk"},
                {"file", "disks/../../x.qcow2"}, {"file", "/etc/ld.so.preload"}, {"file", "disks/other.qcow2"}}) {
            ObjectNode m = manifest(List.of(disk0()));
            ((ObjectNode) m.withArray("disks").get(0)).put(field[0], field[1]);
            String file = write(new CraftedExport().manifest(m).file("disks/disk0.qcow2", qcow2));
            AgentException e = refused(file);
            assertThat(e.code()).as(field[0] + "=" + field[1]).isEqualTo("invalid-export");
            assertThat(e.getMessage()).contains("disks[0]." + field[0]);
            assertThatThrownBy(() -> storage.inspect(new ImportRequest(file, null)))
                    .hasMessageContaining("disks[0]." + field[0]);
        }
    }

    @Test
    void linksDevicesFifosAndDirectoriesAreRefused() throws Exception {
        ObjectNode m = manifest(List.of(disk0()));
        for (Member bad : List.of(Member.of("disks/disk0.qcow2", TarConstants.LF_SYMLINK, "/etc/passwd"),
                Member.of("disks/disk0.qcow2", TarConstants.LF_LINK, "manifest.json"),
                Member.of("disks/disk0.qcow2", TarConstants.LF_CHR, null),
                Member.of("disks/disk0.qcow2", TarConstants.LF_BLK, null),
                Member.of("disks/disk0.qcow2", TarConstants.LF_FIFO, null),
                Member.of("disks/disk0.qcow2/", TarConstants.LF_DIR, null),
                Member.of("other/", TarConstants.LF_DIR, null))) {
            String file = write(new CraftedExport().manifest(m).member(bad));
            AgentException e = refused(file);
            assertThat(e.code()).isEqualTo("invalid-export");
            assertThat(e.getMessage()).containsAnyOf("symbolic link", "hard link", "device", "FIFO", "unexpected member");
        }
        // a link in place of the manifest itself
        String file = write(new CraftedExport().member(Member.of("manifest.json", TarConstants.LF_SYMLINK,
                "/etc/passwd")));
        assertThat(refused(file).getMessage()).contains("symbolic link");
    }

    @Test
    void strangeNamesAndDuplicatesAreRefused() throws Exception {
        ObjectNode m = manifest(List.of(disk0()));
        String longEvil = "disks/" + "a".repeat(120) + "/../../../../" + canary.toString().substring(1) + "/x";
        for (CraftedExport bad : List.of(
                new CraftedExport().manifest(m).file("disks/disk0.qcow2", qcow2).file("disks/disk0.qcow2", qcow2),
                new CraftedExport().manifest(m).file("/disks/disk0.qcow2", qcow2),
                new CraftedExport().manifest(m).file("disks/../disks/disk0.qcow2", qcow2),
                new CraftedExport().manifest(m).file("./disks/disk0.qcow2", qcow2),
                new CraftedExport().manifest(m).file(longEvil, qcow2),
                new CraftedExport().gnuLongNames().manifest(m).file(longEvil, qcow2),
                new CraftedExport().manifest(m).file("disks/disk0.qcow2", qcow2).file("manifest.json", qcow2),
                new CraftedExport().file("disks/disk0.qcow2", qcow2).manifest(m))) {
            AgentException e = refused(write(bad));
            assertThat(e.code()).isEqualTo("invalid-export");
            assertThat(e.getMessage()).containsAnyOf("unexpected member", "appears twice", "first member");
        }
    }

    @Test
    void oversizedManifestMembersAndFieldsAreRefused() throws Exception {
        byte[] huge = ("{\"exportFormatVersion\":1,\"disks\":[],\"pad\":\"" + "x".repeat(ExportManifest.MAX_BYTES)
                + "\"}").getBytes(StandardCharsets.UTF_8);
        assertThat(refused(write(new CraftedExport().manifestBytes(huge))).getMessage())
                .contains("manifest.json has", "at most");
        ObjectNode many = manifest(List.of(disk0()));
        for (int i = 1; i < 12; i++) {
            many.withArray("disks").add(((ObjectNode) many.withArray("disks").get(0).deepCopy()).put("id", "disk" + i)
                    .put("file", "disks/disk" + i + ".qcow2"));
        }
        assertThat(refused(write(new CraftedExport().manifest(many))).getMessage()).contains("at most 8");
        ObjectNode longId = manifest(List.of(disk0()));
        ((ObjectNode) longId.withArray("disks").get(0)).put("id", "d".repeat(5000));
        assertThat(refused(write(new CraftedExport().manifest(longId))).getMessage()).contains("disks[0].id");
        // the member is bigger than the manifest says: refused before it is written
        ObjectNode small = manifest(List.of(new Disk("disk0", "qcow2", qcow2Virtual, new byte[10])));
        assertThat(refused(write(new CraftedExport().manifest(small).file("disks/disk0.qcow2", qcow2))).getMessage())
                .contains("truncated or altered");
        // more members than an export can have
        CraftedExport crowded = new CraftedExport().manifest(manifest(List.of(disk0())));
        for (int i = 0; i < 20; i++) {
            crowded.file("disks/", new byte[0]);
        }
        assertThat(refused(write(crowded)).code()).isEqualTo("invalid-export");
    }

    @Test
    void imagesWithBackingOrDataFilesOrTheWrongFormatAreRefused() throws Exception {
        Path other = root.resolve("vms/11111111-2222-4333-8444-555555555555/disk0.qcow2");
        Files.createDirectories(other.getParent());
        Files.write(other, qcow2);
        byte[] backedByOtherVm = image("-b", other.toString(), "-F", "qcow2");
        byte[] backedByPasswd = image("-b", "/etc/passwd", "-F", "raw");
        Path data = dir.resolve("data.raw");
        byte[] withDataFile = image("-o", "data_file=" + data);
        byte[] rawLooksQcow2 = qcow2.clone();
        byte[] rawLooksVmdk = java.util.Arrays.copyOf(("# Disk DescriptorFile\nversion=1\nCID=fffffffe\n"
                + "createType=\"monolithicFlat\"\nRW 2048 FLAT \"/etc/shadow\" 0\n").getBytes(StandardCharsets.US_ASCII),
                (int) qcow2Virtual);
        byte[] rawLooksVhdx = java.util.Arrays.copyOf("vhdxfile".getBytes(StandardCharsets.US_ASCII), (int) qcow2Virtual);
        for (Object[] c : new Object[][] {{backedByOtherVm, "qcow2", "backing file"},
                {backedByPasswd, "qcow2", "backing file"}, {withDataFile, "qcow2", "external data file"},
                {rawLooksQcow2, "raw", "starts like a qcow2"}, {rawLooksVmdk, "raw", "starts like a vmdk"},
                {rawLooksVhdx, "raw", "starts like a vhdx"}, {new byte[1 << 16], "qcow2", "no qcow2 header"}}) {
            byte[] img = (byte[]) c[0];
            Disk d = new Disk("disk0", (String) c[1], qcow2Virtual, img);
            String file = write(new CraftedExport().manifest(manifest(List.of(d)))
                    .file("disks/disk0." + c[1], img));
            AgentException e = refused(file);
            assertThat(e.code()).isEqualTo("invalid-export");
            assertThat(e.getMessage()).contains((String) c[2]);
        }
        // a virtual size that differs from the manifest's
        Disk lying = new Disk("disk0", "qcow2", 2 * qcow2Virtual, qcow2);
        assertThat(refused(write(new CraftedExport().manifest(manifest(List.of(lying)))
                .file("disks/disk0.qcow2", qcow2))).getMessage()).contains("virtual size");
        storage.delete("vms/11111111-2222-4333-8444-555555555555");
    }

    @Test
    void importSourcesOutsideExportsAreRefused() throws Exception {
        Path disk = root.resolve("vms/11111111-2222-4333-8444-555555555555/disk0.qcow2");
        Files.createDirectories(disk.getParent());
        Files.write(disk, qcow2);
        for (String source : List.of("vms/11111111-2222-4333-8444-555555555555/disk0.qcow2", "archive/x.cva",
                "exports/../vms/x.cva", "exports/sub/x.cva", "/etc/passwd", "../../etc/passwd", "exports/.x.cva",
                "images/a.cva", "exports/x.qcow2")) {
            AgentException e = refused(source);
            assertThat(e.code()).as(source).isEqualTo("import-source-refused");
        }
        // a symbolic link in exports/ pointing elsewhere is not followed
        String file = write(new CraftedExport().manifest(manifest(List.of(disk0()))).file("disks/disk0.qcow2", qcow2));
        Files.move(root.resolve(file), dir.resolve("outside.cva"));
        Files.createSymbolicLink(root.resolve(file), dir.resolve("outside.cva"));
        assertThat(refused(file).code()).isEqualTo("invalid-path");
        assertThatThrownBy(() -> storage.importFile(new ImportRequest("exports/ok.cva", "vms/../../x")))
                .hasMessageContaining("vms/<vm-id>");
        storage.delete("vms/11111111-2222-4333-8444-555555555555");
    }

    @Test
    void storagePathsThroughSymbolicLinksOutOfTheRootAreRefused() throws Exception {
        Files.createSymbolicLink(root.resolve("vms/escape"), canary);
        assertThatThrownBy(() -> storage.delete("vms/escape/x")).isInstanceOf(AgentException.class)
                .hasMessageContaining("symbolic link");
        assertThatThrownBy(() -> storage.checksums(new org.carevisor.protocol.ChecksumRequest(
                List.of("vms/escape/x")))).hasMessageContaining("symbolic link");
        Files.delete(root.resolve("vms/escape"));
    }

    @Test
    void truncatedAndForeignFilesAreRefusedWithTheReason() throws Exception {
        byte[] good = new CraftedExport().manifest(manifest(List.of(disk0()))).file("disks/disk0.qcow2", qcow2)
                .toBytes();
        Files.write(root.resolve("exports/cut.cva"), java.util.Arrays.copyOf(good, good.length * 6 / 10));
        assertThat(refused("exports/cut.cva").getMessage()).contains("truncated");
        Files.writeString(root.resolve("exports/text.cva"), "just some text\n");
        assertThat(refused("exports/text.cva").getMessage()).contains("not");
        Files.write(root.resolve("exports/empty.cva"), new byte[0]);
        assertThat(refused("exports/empty.cva").code()).isEqualTo("invalid-export");
    }

    private byte[] image(String... options) throws IOException {
        Path img = Files.createTempFile(dir, "img", ".qcow2");
        Files.delete(img);
        List<String> argv = new java.util.ArrayList<>(List.of("qemu-img", "create", "-q", "-f", "qcow2"));
        argv.addAll(List.of(options));
        argv.add(img.toString());
        argv.add("1M");
        run(argv.toArray(String[]::new));
        byte[] bytes = Files.readAllBytes(img);
        Files.delete(img);
        return bytes;
    }

    private static void run(String... argv) {
        ProcessRunner.Result r = ProcessRunner.run(List.of(argv), Duration.ofSeconds(60));
        assertThat(r.ok()).as(r.stderr()).isTrue();
    }

    private static List<Path> list(Path d) throws IOException {
        try (Stream<Path> s = Files.walk(d)) {
            return s.filter(p -> !p.equals(d)).toList();
        }
    }
}
