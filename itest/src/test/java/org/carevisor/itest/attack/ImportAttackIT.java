package org.carevisor.itest.attack;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Tls;
import org.carevisor.testkit.CraftedExport;
import org.carevisor.testkit.CraftedExport.Disk;
import org.carevisor.testkit.CraftedExport.Member;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.QemuProcesses;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crafted export files fed to a real manager and a real agent through the real API, as an attacker who can
 * drop a file into the exports directory (or speak to the agent as a manager) would: path traversal in every
 * manifest field, links, devices, FIFOs and duplicates in the tar, oversized fields and manifests, qcow2 images
 * with backing or data files pointing at another VM's disk or /etc/passwd, kept identities that are no UUID or
 * in use, and import sources outside exports/. Each is refused with a clear problem; afterwards nothing was
 * written outside the storage, no VM record and no disk directory was made, and no scratch directory is left.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ImportAttackIT {
    private Path dir;
    private Lab lab;
    private Path storage;
    private Path canary;
    private String victimId;
    private Path victimDisk;
    private byte[] qcow2;
    private int n;
    private boolean tmpXBefore;

    @BeforeAll
    void startLab(@TempDir Path tempDir) throws Exception {
        dir = tempDir;
        tmpXBefore = Files.exists(Path.of("/tmp/x.qcow2"));
        lab = Lab.start(dir.resolve("lab"), 25200, Lab.applianceImage());
        storage = lab.dir().resolve("storage");
        canary = dir.resolve("canary");
        Files.createDirectories(canary);
        Files.createDirectories(storage.resolve("exports"));
        JsonNode victim = lab.createVm("{\"name\":\"victim\",\"cpus\":1,\"memoryMiB\":64,\"image\":\"carevisor-appliance\"}");
        victimId = victim.path("id").asText();
        victimDisk = storage.resolve("vms/" + victimId + "/disk0.qcow2");
        Path img = dir.resolve("plain.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", img.toString(), "1M");
        qcow2 = Files.readAllBytes(img);
    }

    @AfterAll
    void stopLab() {
        if (lab != null) {
            lab.close();
        }
        assertThat(QemuProcesses.find(dir.toString())).as("QEMU processes left behind").isEmpty();
    }

    @AfterEach
    void nothingWasMade() throws IOException {
        assertThat(walk(canary)).as("files written outside the storage").isEmpty();
        assertThat(lab.api().get("/api/v1/vms").json().findValuesAsText("name")).containsExactly("victim");
        try (Stream<Path> s = Files.list(storage.resolve("vms"))) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactly(victimId);
        }
        try (Stream<Path> s = Files.walk(storage)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(x -> x.startsWith(".import-")
                    || x.startsWith(".inspect-") || x.startsWith(".export-"))).as("scratch left").isEmpty();
        }
        assertThat(Files.readAllBytes(victimDisk).length).isPositive();
        assertThat(Files.exists(Path.of("/tmp/x.qcow2"))).as("/tmp/x.qcow2 appeared").isEqualTo(tmpXBefore);
    }

    private ObjectNode manifest(List<Disk> disks) {
        return CraftedExport.manifestFor("0f0e0d0c-0b0a-4909-8807-06050403020" + (n % 10), "atk-" + n, disks);
    }

    private Disk disk0(byte[] image) {
        return new Disk("disk0", "qcow2", 1L << 20, image);
    }

    private String drop(CraftedExport export) throws IOException {
        String name = "atk-" + (++n) + ".cva";
        export.write(storage.resolve("exports").resolve(name));
        return name;
    }

    private Http.Response post(String file, String identity) {
        return lab.api().post("/api/v1/vm-imports", "{\"file\":" + Http.json().valueToTree(file) + ",\"identity\":\""
                + identity + "\"}");
    }

    /** Refused at once (the manifest or the path is wrong): status, code, and the fields named. */
    private JsonNode refusedNow(String file, String identity, int status, String code) {
        Http.Response r = post(file, identity);
        assertThat(r.status()).as(file + ": " + r.text()).isEqualTo(status);
        assertThat(r.json().path("code").asText()).as(r.text()).isEqualTo(code);
        assertThat(r.json().path("detail").asText()).isNotBlank();
        return r.json();
    }

    /** Accepted as a request, refused by the agent in the task: invalid-export with the reason. */
    private void refusedInTask(String file, String reason) {
        Http.Response r = post(file, "new");
        assertThat(r.status()).as(r.text()).isEqualTo(202);
        JsonNode task = lab.awaitTaskEnd(r.json().path("id").asText());
        assertThat(task.path("state").asText()).isEqualTo("failed");
        assertThat(task.path("error").path("code").asText()).as(task.toString()).isEqualTo("invalid-export");
        assertThat(task.path("error").path("detail").asText()).contains(reason);
    }

    @Test
    void pathTraversalInEveryManifestFieldIsRefused() throws Exception {
        String out = "../../../../../../../../.." + canary + "/pwned";
        for (String[] f : new String[][] {{"disks", "id", out}, {"disks", "id", "../../../../tmp/x"},
                {"disks", "format", "qcow2/../../../../../../tmp/x"}, {"disks", "file", "disks/../../" + out},
                {"disks", "file", "/etc/ld.so.preload"}, {"vm", "name", "../../" + out},
                {"vm", "id", out}}) {
            ObjectNode m = manifest(List.of(disk0(qcow2)));
            ObjectNode target = f[0].equals("vm") ? (ObjectNode) m.get("vm") : (ObjectNode) m.withArray("disks").get(0);
            target.put(f[1], f[2]);
            String file = drop(new CraftedExport().manifest(m).file("disks/disk0.qcow2", qcow2));
            JsonNode problem = refusedNow(file, "keep", 422, "invalid-export");
            assertThat(problem.path("detail").asText()).as(f[1]).containsAnyOf(f[0] + "[0]." + f[1],
                    "manifest.vm." + f[1], "manifest.disks[0]." + f[1]);
        }
    }

    @Test
    void linksDevicesFifosAndDuplicatesInTheTarAreRefused() throws Exception {
        for (Member bad : List.of(Member.of("disks/disk0.qcow2", TarConstants.LF_SYMLINK, victimDisk.toString()),
                Member.of("disks/disk0.qcow2", TarConstants.LF_LINK, "/etc/passwd"),
                Member.of("disks/disk0.qcow2", TarConstants.LF_CHR, null),
                Member.of("disks/disk0.qcow2", TarConstants.LF_FIFO, null))) {
            refusedInTask(drop(new CraftedExport().manifest(manifest(List.of(disk0(qcow2)))).member(bad)),
                    "an export holds only regular files");
        }
        refusedInTask(drop(new CraftedExport().manifest(manifest(List.of(disk0(qcow2))))
                .file("disks/disk0.qcow2", qcow2).file("disks/disk0.qcow2", qcow2)), "appears twice");
        refusedInTask(drop(new CraftedExport().manifest(manifest(List.of(disk0(qcow2))))
                .file("disks/" + "a".repeat(150) + "/../../../../../../../.." + canary + "/pwned", qcow2)),
                "unexpected member");
        refusedInTask(drop(new CraftedExport().gnuLongNames().manifest(manifest(List.of(disk0(qcow2))))
                .file("disks/" + "b".repeat(150) + "/../../../../../../../.." + canary + "/pwned", qcow2)),
                "unexpected member");
        // a link in place of the manifest: refused when the file is first read
        JsonNode p = refusedNow(drop(new CraftedExport().member(Member.of("manifest.json", TarConstants.LF_SYMLINK,
                "/etc/passwd"))), "new", 422, "invalid-export");
        assertThat(p.path("errors").findValuesAsText("field")).containsExactly("file");
    }

    @Test
    void oversizedFieldsAndManifestsAreRefused() throws Exception {
        byte[] huge = ("{\"exportFormatVersion\":1,\"disks\":[],\"vm\":{\"name\":\"" + "x".repeat(2 << 20)
                + "\"}}").getBytes(StandardCharsets.UTF_8);
        assertThat(refusedNow(drop(new CraftedExport().manifestBytes(huge)), "new", 422, "invalid-export")
                .path("detail").asText()).contains("at most");
        ObjectNode longName = manifest(List.of(disk0(qcow2)));
        ((ObjectNode) longName.get("vm")).put("description", "d".repeat(5000)).put("cpus", 100000)
                .put("memoryMiB", -1);
        JsonNode p = refusedNow(drop(new CraftedExport().manifest(longName).file("disks/disk0.qcow2", qcow2)), "new",
                422, "invalid-export");
        assertThat(p.path("errors").findValuesAsText("field")).contains("manifest.vm.description");
        ObjectNode cpus = manifest(List.of(disk0(qcow2)));
        ((ObjectNode) cpus.get("vm")).put("cpus", 100000);
        assertThat(refusedNow(drop(new CraftedExport().manifest(cpus).file("disks/disk0.qcow2", qcow2)), "new", 422,
                "invalid-export").path("errors").findValuesAsText("field")).containsExactly("manifest.vm.cpus");
        // a member bigger than the manifest says is not written
        ObjectNode small = manifest(List.of(disk0(new byte[7])));
        refusedInTask(drop(new CraftedExport().manifest(small).file("disks/disk0.qcow2", qcow2)), "truncated or altered");
    }

    @Test
    void imagesThatReachOtherFilesAreRefused() throws Exception {
        byte[] backedByVictim = image("-b", victimDisk.toString(), "-F", "qcow2");
        byte[] backedByPasswd = image("-b", "/etc/passwd", "-F", "raw");
        byte[] withDataFile = image("-o", "data_file=" + canary.resolve("data.raw"));
        Files.deleteIfExists(canary.resolve("data.raw"));
        for (Object[] c : new Object[][] {{backedByVictim, "backing file"}, {backedByPasswd, "backing file"},
                {withDataFile, "external data file"}}) {
            byte[] img = (byte[]) c[0];
            refusedInTask(drop(new CraftedExport().manifest(manifest(List.of(disk0(img))))
                    .file("disks/disk0.qcow2", img)), (String) c[1]);
        }
        Disk raw = new Disk("disk0", "raw", 1L << 20, qcow2);
        refusedInTask(drop(new CraftedExport().manifest(manifest(List.of(raw))).file("disks/disk0.raw", qcow2)),
                "starts like a qcow2");
    }

    @Test
    void keptIdentitiesMustBeUnusedUuids() throws Exception {
        ObjectNode notUuid = manifest(List.of(disk0(qcow2)));
        ((ObjectNode) notUuid.get("vm")).put("id", "not-a-uuid");
        String file = drop(new CraftedExport().manifest(notUuid).file("disks/disk0.qcow2", qcow2));
        assertThat(refusedNow(file, "keep", 422, "invalid-export").path("errors").findValuesAsText("field"))
                .containsExactly("manifest.vm.id");
        ObjectNode inUse = manifest(List.of(disk0(qcow2)));
        ((ObjectNode) inUse.get("vm")).put("id", victimId);
        refusedNow(drop(new CraftedExport().manifest(inUse).file("disks/disk0.qcow2", qcow2)), "keep", 409, "id-taken");
        ObjectNode badMac = manifest(List.of(disk0(qcow2)));
        ((ObjectNode) badMac.get("vm").get("nics").get(0)).put("mac", "52:54:00:aa:bb:01,id=x");
        assertThat(refusedNow(drop(new CraftedExport().manifest(badMac).file("disks/disk0.qcow2", qcow2)), "keep",
                422, "invalid-export").path("errors").findValuesAsText("field")).containsExactly("manifest.vm.nics[0].mac");
    }

    @Test
    void importSourcesOutsideExportsAreRefusedOnBothSides() throws Exception {
        Files.createDirectories(storage.resolve("archive"));
        Files.write(storage.resolve("archive/" + victimId + ".cva"), new CraftedExport()
                .manifest(manifest(List.of(disk0(qcow2)))).file("disks/disk0.qcow2", qcow2).toBytes());
        for (String file : List.of("archive/" + victimId + ".cva", "vms/" + victimId + "/disk0.qcow2",
                "../vms/" + victimId + "/disk0.qcow2", "exports/../vms/" + victimId + "/disk0.qcow2", "/etc/passwd",
                "exports/sub/x.cva", ".hidden.cva", "../../../etc/passwd")) {
            JsonNode p = refusedNow(file, "new", 400, "import-source-refused");
            assertThat(p.path("errors").findValuesAsText("field")).containsExactly("file");
        }
        Files.delete(storage.resolve("archive/" + victimId + ".cva"));
        // the agent refuses it too, whoever asks (here: a caller with a manager certificate)
        HttpClient asManager = managerClient();
        String endpoint = lab.agentEndpoint();
        for (String source : List.of("vms/" + victimId + "/disk0.qcow2", "images/carevisor-appliance.qcow2",
                "exports/../vms/" + victimId + "/disk0.qcow2")) {
            HttpResponse<String> r = asManager.send(HttpRequest.newBuilder(URI.create(endpoint + "/v1/imports"))
                    .header("Carevisor-Protocol", "1").header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"source\":\"" + source + "\",\"targetDir\":\"vms/"
                            + "0f0e0d0c-0b0a-4909-8807-0605040302ff\"}")).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
            assertThat(r.body()).contains("import-source-refused");
        }
        // and a symbolic link in exports/ that leads out of the storage is not followed
        Path outside = canary.resolveSibling("outside.cva");
        new CraftedExport().manifest(manifest(List.of(disk0(qcow2)))).file("disks/disk0.qcow2", qcow2).write(outside);
        Files.createSymbolicLink(storage.resolve("exports/link.cva"), outside);
        assertThat(refusedNow("link.cva", "new", 400, "invalid-path").path("detail").asText()).contains("symbolic link");
        Files.delete(storage.resolve("exports/link.cva"));
    }

    private HttpClient managerClient() throws IOException {
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(lab.dir().resolve("manager/pki"), "Carevisor CA");
        KeyPair keys = Keys.generate();
        Tls.Identity id = new Tls.Identity(keys.getPrivate(), ca.issue(keys.getPublic(), "manager",
                List.of("127.0.0.1"), Duration.ofHours(1)), ca.certificate());
        return HttpClient.newBuilder().sslContext(Tls.context(id)).connectTimeout(Duration.ofSeconds(5)).build();
    }

    private byte[] image(String... options) throws Exception {
        Path img = dir.resolve("img-" + System.nanoTime() + ".qcow2");
        List<String> argv = new java.util.ArrayList<>(List.of("qemu-img", "create", "-q", "-f", "qcow2"));
        argv.addAll(List.of(options));
        argv.add(img.toString());
        argv.add("1M");
        run(argv.toArray(String[]::new));
        byte[] bytes = Files.readAllBytes(img);
        Files.delete(img);
        return bytes;
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        assertThat(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
    }

    private static List<Path> walk(Path d) throws IOException {
        try (Stream<Path> s = Files.walk(d)) {
            return s.filter(p -> !p.equals(d)).toList();
        }
    }
}
