package org.carevisor.itest.attack;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.util.UUID;
import java.util.stream.Stream;
import org.carevisor.testkit.Commands;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.QemuProcesses;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review item 2 through the real API of a real manager and agent: a guest that wrote a qcow2 header naming a host
 * file into its raw disk, and a rogue writer of the shared storage that made a VM's qcow2 header name a host file.
 * The raw disk stays raw through start, clone, template creation and both kinds of deployment, and is refused at
 * export and archive (the VM and its disk stay as they were); the rogue qcow2 disk is refused at start, export,
 * archive, clone and template creation, with the disk and the bad backing file named in the task's error. The host
 * file's canary appears in no file of the storage and in no QEMU.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ImageProbingAttackIT {
    private Path dir;
    private Lab lab;
    private Path storage;
    private Path hostFile;
    private String canary;

    @BeforeAll
    void startLab(@TempDir Path tempDir) throws Exception {
        dir = tempDir;
        lab = Lab.start(dir.resolve("lab"), 26600, Lab.applianceImage());
        storage = lab.dir().resolve("storage");
        canary = "CANARY-HOST-FILE-" + UUID.randomUUID();
        hostFile = dir.resolve("host/secret.txt");
        Files.createDirectories(hostFile.getParent());
        Files.writeString(hostFile, (canary + "\n").repeat(20_000));
    }

    @AfterAll
    void stopLab() throws IOException {
        try {
            try (Stream<Path> files = Files.walk(storage)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    assertThat(contains(f, canary)).as("the host file's canary in %s", f).isFalse();
                }
            }
        } finally {
            if (lab != null) {
                lab.close();
            }
        }
        assertThat(QemuProcesses.find(dir.toString())).as("QEMU processes left behind").isEmpty();
    }

    private Path diskOf(String vm) {
        return storage.resolve(lab.vm(vm).path("disks").get(0).path("path").asText());
    }

    @Test
    void aGuestsRawDiskWithAQcow2HeaderStaysRaw() throws Exception {
        lab.createVm("{\"name\":\"rawguest\",\"cpus\":1,\"memoryMiB\":64,\"disks\":[{\"sizeMiB\":16,\"format\":\"raw\"}]}");
        Path disk = diskOf("rawguest");
        // what the guest wrote into its own disk: a qcow2 header whose backing file is a host file
        Path header = dir.resolve("header.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", hostFile.toString(), "-F", "raw", header.toString(),
                "16M");
        try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(Files.readAllBytes(header)), 0);
        }
        byte[] before = Files.readAllBytes(disk);

        startAndStop("rawguest");

        for (String action : List.of("export", "archive")) {
            JsonNode task = lab.run("/api/v1/vms/rawguest/" + action, action.equals("archive")
                    ? "{\"reason\":\"department closed\"}" : null);
            assertThat(task.path("state").asText()).as(task.toString()).isEqualTo("failed");
            assertThat(task.path("error").path("code").asText()).isEqualTo("disk-image-refused");
            assertThat(task.path("error").path("detail").asText()).contains("disk0", "starts like a qcow2");
        }
        assertThat(lab.vm("rawguest").path("lifecycle").asText()).isEqualTo("ready");
        assertThat(Files.readAllBytes(disk)).as("the disk after the refused archive").isEqualTo(before);
        if (Files.exists(storage.resolve("archive"))) {
            try (Stream<Path> s = Files.list(storage.resolve("archive"))) {
                assertThat(s.toList()).isEmpty();
            }
        }

        JsonNode clone = lab.run("/api/v1/vms/rawguest/clone", "{\"name\":\"rawclone\"}");
        assertThat(clone.path("state").asText()).as(clone.toString()).isEqualTo("succeeded");
        assertThat(Files.readAllBytes(diskOf("rawclone"))).isEqualTo(before);

        JsonNode template = lab.run("/api/v1/templates", "{\"vm\":\"rawguest\"}");
        assertThat(template.path("state").asText()).as(template.toString()).isEqualTo("succeeded");
        for (String mode : List.of("linked", "full")) {
            JsonNode deployed = lab.run("/api/v1/templates/rawguest/deploy", "{\"name\":\"raw-" + mode + "\",\"mode\":\""
                    + mode + "\"}");
            assertThat(deployed.path("state").asText()).as(deployed.toString()).isEqualTo("succeeded");
        }
        startAndStop("raw-linked");
        startAndStop("raw-full");
    }

    @Test
    void aQcow2HeaderRewrittenToNameAHostFileIsRefusedEverywhere() throws Exception {
        lab.createVm("{\"name\":\"rogue\",\"cpus\":1,\"memoryMiB\":64,\"disks\":[{\"sizeMiB\":16}]}");
        Path disk = diskOf("rogue");
        // a rogue host with write access to the shared storage points the header at this host's file
        run("qemu-img", "rebase", "-u", "-f", "qcow2", "-b", hostFile.toString(), "-F", "raw", disk.toString());

        Http.Response start = lab.api().post("/api/v1/vms/rogue/start", null);
        assertThat(start.status()).as(start.text()).isEqualTo(202);
        assertRefused(lab.awaitTaskEnd(start.json().path("id").asText()));
        assertThat(lab.vm("rogue").path("state").asText()).isNotEqualTo("running");
        assertRefused(lab.run("/api/v1/vms/rogue/export", null));
        assertRefused(lab.run("/api/v1/vms/rogue/archive", "{\"reason\":\"test\"}"));
        assertRefused(lab.run("/api/v1/vms/rogue/clone", "{\"name\":\"rogueclone\"}"));
        assertThat(lab.api().get("/api/v1/vms/rogueclone").status()).isEqualTo(404);
        assertRefused(lab.run("/api/v1/templates", "{\"vm\":\"rogue\"}"));
        assertThat(lab.vm("rogue").path("lifecycle").asText()).isEqualTo("ready");
        assertThat(diskOf("rogue")).exists();

        // a json: pseudo-file name is refused the same way
        run("qemu-img", "rebase", "-u", "-f", "qcow2", "-b", "json:{\"driver\":\"file\",\"filename\":\"" + hostFile
                + "\"}", "-F", "raw", disk.toString());
        JsonNode json = lab.run("/api/v1/vms/rogue/start", null);
        assertThat(json.path("error").path("code").asText()).as(json.toString()).isEqualTo("backing-file-refused");
        assertThat(json.path("error").path("detail").asText()).contains("json:");
    }

    private void assertRefused(JsonNode task) {
        assertThat(task.path("state").asText()).as(task.toString()).isEqualTo("failed");
        assertThat(task.path("error").path("code").asText()).as(task.toString()).isEqualTo("backing-file-refused");
        assertThat(task.path("error").path("detail").asText()).contains("disk0", hostFile.toString());
    }

    /** Starts a VM, checks that its QEMU has the host file nowhere open, and stops it again. */
    private void startAndStop(String vm) throws Exception {
        lab.act(vm, "start");
        long pid = lab.qemuPid(lab.vm(vm).path("id").asText());
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
        assertThat(opened).noneMatch(f -> f.contains("secret"));
        lab.act(vm, "poweroff");
        lab.awaitState(vm, "stopped", Duration.ofSeconds(30));
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

    private static void run(String... argv) throws Exception {
        Commands.run(java.time.Duration.ofSeconds(120), argv);
    }
}
