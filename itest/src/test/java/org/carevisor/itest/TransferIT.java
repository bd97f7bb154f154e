package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Http;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A VM as one portable file: export, import (kept or new identity), archive and restore with real guests;
 * truncated, altered and foreign files are refused with the reason, and nothing is left half-made.
 */
class TransferIT extends ApplianceLabTest {
    @TempDir
    Path scratch;

    @Override
    int guestPortFrom() {
        return 23800;
    }

    @Test
    void exportImportArchiveRestore() throws Exception {
        JsonNode vm = lab.createVm("{\"name\":\"xfer-1\",\"cpus\":1,\"memoryMiB\":128,"
                + "\"image\":\"carevisor-appliance\",\"start\":true}");
        GuestProbe guest = lab.guest("xfer-1");
        guest.awaitReady(BOOT);
        guest.setDiskCounter(7);

        Http.Response whileRunning = lab.api().post("/api/v1/vms/xfer-1/export", null);
        assertThat(whileRunning.status()).isEqualTo(409);
        assertThat(whileRunning.json().path("code").asText()).isEqualTo("vm-running");
        lab.act("xfer-1", "shutdown");

        // Export: one file with the disk and definition, checksums inside.
        JsonNode exported = lab.run("/api/v1/vms/xfer-1/export", null);
        assertThat(exported.path("state").asText()).as(exported.toString()).isEqualTo("succeeded");
        String message = exported.path("message").asText();
        String file = message.replaceAll(".* carevisor vm import (\\S+)$", "$1");
        Path exportFile = lab.dir().resolve("storage/exports").resolve(file);
        assertThat(message).as("the full path on the host").contains(" exported to " + exportFile + " (");
        assertThat(exportFile).exists();
        assertThat(tarList(exportFile)).containsExactly("manifest.json", "manifest.json.sha256", "disks/disk0.qcow2");

        // Import keeping the identity is refused while the original exists; a new identity works.
        Http.Response keep = lab.api().post("/api/v1/vm-imports", "{\"file\":\"" + file + "\",\"name\":\"xfer-copy\"}");
        assertThat(keep.status()).isEqualTo(409);
        assertThat(keep.json().path("code").asText()).isEqualTo("id-taken");
        JsonNode imported = lab.run("/api/v1/vm-imports", "{\"file\":\"" + file
                + "\",\"name\":\"xfer-copy\",\"identity\":\"new\",\"start\":true}");
        assertThat(imported.path("state").asText()).as(imported.toString()).isEqualTo("succeeded");
        GuestProbe.Status copy = lab.guest("xfer-copy").awaitReady(BOOT);
        assertThat(copy.diskCounter()).isEqualTo(7);
        assertThat(copy.uuid()).isEqualTo(lab.vm("xfer-copy").path("id").asText()).isNotEqualTo(vm.path("id").asText());

        // Damaged files are refused with the reason and leave no VM and no disk directory behind.
        int dirs = vmDirs();
        byte[] bytes = Files.readAllBytes(exportFile);
        Path storage = lab.dir().resolve("storage");
        Files.write(storage.resolve("exports/truncated.cva"), java.util.Arrays.copyOf(bytes, bytes.length * 6 / 10));
        assertRefused("exports/truncated.cva", "trunc-1", "truncated");
        Files.write(storage.resolve("exports/altered.cva"), bytes);
        try (RandomAccessFile f = new RandomAccessFile(storage.resolve("exports/altered.cva").toFile(), "rw")) {
            f.seek(bytes.length / 2);
            f.write(f.read() ^ 0x55);
        }
        assertRefused("exports/altered.cva", "alter-1", "was altered: SHA-256");
        Path repacked = repackWithChangedManifest(exportFile);
        Files.copy(repacked, storage.resolve("exports/manifest-altered.cva"));
        Http.Response manifestAltered = lab.api().post("/api/v1/vm-imports",
                "{\"file\":\"exports/manifest-altered.cva\",\"name\":\"alter-2\",\"identity\":\"new\"}");
        assertThat(manifestAltered.status()).isEqualTo(422);
        assertThat(manifestAltered.json().path("detail").asText()).contains("manifest.json was altered");
        Files.writeString(storage.resolve("exports/not-an-export.cva"), "just some text\n");
        Http.Response foreign = lab.api().post("/api/v1/vm-imports",
                "{\"file\":\"exports/not-an-export.cva\",\"identity\":\"new\"}");
        assertThat(foreign.status()).isEqualTo(422);
        assertThat(foreign.json().path("errors").findValuesAsText("field")).containsExactly("file");
        assertThat(lab.api().post("/api/v1/vm-imports", "{\"file\":\"../../etc/passwd\"}").status()).isIn(400, 409);
        assertThat(lab.api().post("/api/v1/vm-imports", "{\"file\":\"" + file + "\",\"identity\":\"clone\"}")
                .json().path("errors").findValuesAsText("field")).containsExactly("identity");
        assertThat(vmDirs()).isEqualTo(dirs);
        assertThat(lab.api().get("/api/v1/vms").json().findValuesAsText("name"))
                .containsExactlyInAnyOrder("xfer-1", "xfer-copy");

        // Archive: the disks leave, the VM stays as a read-only record.
        JsonNode archived = lab.run("/api/v1/vms/xfer-1/archive", "{\"reason\":\"department closed\"}");
        assertThat(archived.path("state").asText()).as(archived.toString()).isEqualTo("succeeded");
        JsonNode record = lab.vm("xfer-1");
        assertThat(record.path("lifecycle").asText()).isEqualTo("archived");
        assertThat(storage.resolve(record.path("archivePath").asText())).exists();
        assertThat(storage.resolve("vms/" + vm.path("id").asText())).doesNotExist();
        Http.Response start = lab.api().post("/api/v1/vms/xfer-1/start", null);
        assertThat(start.status()).isEqualTo(409);
        assertThat(start.json().path("detail").asText()).contains("archived", "restore it first");
        assertThat(lab.api().patch("/api/v1/vms/xfer-1", "{\"memoryMiB\":256}").status()).isEqualTo(409);

        // Restore: verified, back in place, boots with its data; the archive file is gone.
        JsonNode restored = lab.run("/api/v1/vms/xfer-1/restore", null);
        assertThat(restored.path("state").asText()).as(restored.toString()).isEqualTo("succeeded");
        assertThat(lab.vm("xfer-1").path("lifecycle").asText()).isEqualTo("ready");
        assertThat(storage.resolve(record.path("archivePath").asText())).doesNotExist();
        lab.act("xfer-1", "start");
        GuestProbe.Status back = guest.awaitReady(BOOT);
        assertThat(back.diskCounter()).isEqualTo(7);
        assertThat(back.uuid()).isEqualTo(vm.path("id").asText());
        assertThat(lab.api().get("/api/v1/vms/xfer-1/history").json().findValuesAsText("action"))
                .contains("vm.export", "vm.archive", "vm.restore");

        // Archiving needs a stopped VM without snapshots.
        assertThat(lab.api().post("/api/v1/vms/xfer-1/archive", null).status()).isEqualTo(409);
        lab.act("xfer-1", "shutdown");
        lab.run("/api/v1/vms/xfer-1/snapshots", "{\"name\":\"keep me\"}");
        Http.Response withSnapshots = lab.api().post("/api/v1/vms/xfer-1/archive", null);
        assertThat(withSnapshots.status()).isEqualTo(409);
        assertThat(withSnapshots.json().path("code").asText()).isEqualTo("vm-has-snapshots");
    }

    private void assertRefused(String file, String name, String reason) throws Exception {
        JsonNode task = lab.run("/api/v1/vm-imports", "{\"file\":\"" + file + "\",\"name\":\"" + name
                + "\",\"identity\":\"new\"}");
        assertThat(task.path("state").asText()).isEqualTo("failed");
        assertThat(task.path("error").path("code").asText()).isEqualTo("invalid-export");
        assertThat(task.path("error").path("detail").asText()).contains(reason);
        assertThat(lab.api().get("/api/v1/vms/" + name).status()).isEqualTo(404);
    }

    private int vmDirs() throws Exception {
        try (Stream<Path> s = Files.list(lab.dir().resolve("storage/vms"))) {
            return (int) s.count();
        }
    }

    private static List<String> tarList(Path file) throws Exception {
        Process p = new ProcessBuilder("tar", "-tf", file.toString()).start();
        List<String> names = new String(p.getInputStream().readAllBytes()).lines().toList();
        p.waitFor(30, TimeUnit.SECONDS);
        return names;
    }

    /** The export with its manifest edited (more memory) but the old checksum kept: a forged file. */
    private Path repackWithChangedManifest(Path export) throws Exception {
        Path dir = scratch.resolve("repack");
        Files.createDirectories(dir);
        run("tar", "-xf", export.toString(), "-C", dir.toString());
        ObjectNode manifest = (ObjectNode) Http.json().readTree(dir.resolve("manifest.json").toFile());
        ((ObjectNode) manifest.path("vm")).put("memoryMiB", 4096);
        Files.write(dir.resolve("manifest.json"), Http.json().writerWithDefaultPrettyPrinter().writeValueAsBytes(manifest));
        Path out = scratch.resolve("forged.cva");
        run("tar", "--format=pax", "-cf", out.toString(), "-C", dir.toString(), "manifest.json",
                "manifest.json.sha256", "disks/disk0.qcow2");
        return out;
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
    }
}
