package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.junit.jupiter.api.Test;

/**
 * A qualified master VM, as a regulated site uses it: a prepared VM becomes a template, linked and full
 * clones get new identities that the guests themselves report, qualification freezes the base images by
 * SHA-256 and a tampered base image stops deployments, a new version is made from a deployed VM, retirement
 * stops deployments but not running VMs, and templates in use cannot be deleted.
 */
class TemplateIT extends ApplianceLabTest {
    @Override
    int guestPortFrom() {
        return 23400;
    }

    @Test
    void masterVmLifecycle() throws Exception {
        // A prepared master: the appliance with its disk counter set to 5, then shut down.
        lab.createVm("{\"name\":\"master\",\"cpus\":1,\"memoryMiB\":128,\"image\":\"carevisor-appliance\",\"start\":true}");
        lab.guest("master").awaitReady(BOOT);
        lab.guest("master").setDiskCounter(5);
        lab.act("master", "shutdown");

        // It becomes template "master" v1 (draft); the VM is gone, its disk is a read-only base image.
        JsonNode made = lab.run("/api/v1/templates", "{\"vm\":\"master\",\"guestOs\":\"busybox\",\"description\":\"lab\"}");
        assertThat(made.path("state").asText()).as(made.toString()).isEqualTo("succeeded");
        assertThat(lab.api().get("/api/v1/vms/master").status()).isEqualTo(404);
        JsonNode v1 = lab.api().get("/api/v1/templates/master").json();
        assertThat(v1.path("version").asInt()).isEqualTo(1);
        assertThat(v1.path("state").asText()).isEqualTo("draft");
        assertThat(v1.path("guestOs").asText()).isEqualTo("busybox");
        Path base = lab.dir().resolve("storage").resolve(v1.path("disks").get(0).path("path").asText());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(base))).isEqualTo("r--r--r--");

        // Two linked clones: overlays on the base, each with its own identity, seen from inside the guests.
        JsonNode c1 = deploy("master", "clone-1", "linked");
        JsonNode c2 = deploy("master", "clone-2", "linked");
        JsonNode overlay = GuestDisks.info(lab.dir().resolve("storage").resolve(c1.path("disks").get(0).path("path").asText()));
        assertThat(overlay.path("backing-filename").asText()).startsWith("../../templates/" + v1.path("id").asText());
        GuestProbe.Status g1 = lab.guest("clone-1").awaitReady(BOOT);
        GuestProbe.Status g2 = lab.guest("clone-2").awaitReady(BOOT);
        assertThat(g1.uuid()).isEqualTo(c1.path("id").asText());
        assertThat(g2.uuid()).isEqualTo(c2.path("id").asText());
        assertThat(g1.mac()).isEqualTo(c1.path("nics").get(0).path("mac").asText());
        assertThat(g2.mac()).isEqualTo(c2.path("nics").get(0).path("mac").asText());
        assertThat(g1.uuid()).isNotEqualTo(g2.uuid());
        assertThat(g1.mac()).isNotEqualTo(g2.mac());
        assertThat(g1.diskCounter()).as("the master's data").isEqualTo(5);
        assertThat(c1.path("templateId").asText()).isEqualTo(v1.path("id").asText());

        // A template in use cannot be deleted; the refusal names the dependents.
        Http.Response inUse = lab.api().delete("/api/v1/templates/master");
        assertThat(inUse.status()).isEqualTo(409);
        assertThat(inUse.json().path("code").asText()).isEqualTo("template-in-use");
        assertThat(inUse.json().path("detail").asText()).contains("clone-1", "clone-2");

        // Qualification records the base image's SHA-256.
        // marking it qualified is a critical action: without a signature (or with a wrong password) it is refused
        Http.Response unsigned = lab.api().post("/api/v1/templates/master/qualify", "{\"reason\":\"IQ/OQ passed\"}");
        assertThat(unsigned.status()).isEqualTo(403);
        assertThat(unsigned.json().path("code").asText()).isEqualTo("signature-required");
        Http.Response wrong = lab.api().post("/api/v1/templates/master/qualify", "{\"reason\":\"IQ/OQ passed\","
                + Lab.signature("approved").replace(Lab.ADMIN_PASSWORD, "wrong") + "}");
        assertThat(wrong.status()).isEqualTo(403);
        assertThat(wrong.json().path("code").asText()).isEqualTo("signature-invalid");
        assertThat(lab.api().get("/api/v1/templates/master@1").json().path("state").asText()).isEqualTo("draft");
        assertThat(lab.run("/api/v1/templates/master/qualify", "{\"reason\":\"IQ/OQ passed\","
                + Lab.signature("approved") + "}").path("state").asText()).isEqualTo("succeeded");
        JsonNode signed = lab.api().get("/api/v1/audit?action=template.qualify&limit=1").json().get(0);
        assertThat(signed.path("signature").path("printedName").asText()).isEqualTo("Administrator");
        assertThat(signed.path("signature").path("meaning").asText()).isEqualTo("approved");
        assertThat(signed.path("reason").asText()).contains("IQ/OQ passed");
        JsonNode qualified = lab.api().get("/api/v1/templates/master@1").json();
        assertThat(qualified.path("state").asText()).isEqualTo("qualified");
        assertThat(qualified.path("disks").get(0).path("sha256").asText()).isEqualTo(sha256(base));
        Http.Response again = lab.api().post("/api/v1/templates/master/qualify", "{\"reason\":\"again\","
                + Lab.signature("approved") + "}");
        assertThat(again.status()).as("a qualified template cannot be qualified again").isEqualTo(409);
        assertThat(again.json().path("code").asText()).isEqualTo("template-state");

        // A full clone of the qualified template is verified, then independent of the base.
        JsonNode full = deploy("master", "full-1", "full");
        assertThat(GuestDisks.info(lab.dir().resolve("storage").resolve(full.path("disks").get(0).path("path").asText()))
                .has("backing-filename")).isFalse();

        // A changed base image is caught before anything is created.
        byte[] original = Files.readAllBytes(base);
        try (RandomAccessFile f = new RandomAccessFile(base.toFile(), "rw")) {
            f.seek(9_000_000);
            f.write(f.read() ^ 0xff);
        }
        int vmDirs = countVmDirs();
        JsonNode refused = lab.run("/api/v1/templates/master/deploy", "{\"name\":\"evil-1\"}");
        assertThat(refused.path("state").asText()).isEqualTo("failed");
        assertThat(refused.path("error").path("code").asText()).isEqualTo("template-tampered");
        assertThat(refused.path("error").path("detail").asText()).contains("disk0", sha256(base),
                qualified.path("disks").get(0).path("sha256").asText());
        assertThat(lab.api().get("/api/v1/vms/evil-1").status()).isEqualTo(404);
        assertThat(countVmDirs()).isEqualTo(vmDirs);
        assertThat(lab.api().get("/api/v1/audit?target=" + v1.path("id").asText()).json()
                .findValuesAsText("action")).contains("template.verify", "template.qualify", "template.create");
        Files.write(base, original);

        // A new version from a VM deployed from v1: stop clone-1 and make it v2 (its overlay is flattened).
        lab.act("clone-1", "shutdown");
        JsonNode v2task = lab.run("/api/v1/templates", "{\"vm\":\"clone-1\",\"description\":\"patched\"}");
        assertThat(v2task.path("state").asText()).as(v2task.toString()).isEqualTo("succeeded");
        JsonNode v2 = lab.api().get("/api/v1/templates/master").json();
        assertThat(v2.path("version").asInt()).isEqualTo(2);
        assertThat(v2.path("parentTemplateId").asText()).isEqualTo(v1.path("id").asText());
        assertThat(GuestDisks.info(lab.dir().resolve("storage").resolve(v2.path("disks").get(0).path("path").asText()))
                .has("backing-filename")).as("v2 stands on its own").isFalse();
        assertThat(lab.api().get("/api/v1/templates/" + v1.path("id").asText()).json().path("linkedClones"))
                .extracting(JsonNode::asText).containsExactly("clone-2");

        // Retired: no deployments, but the clone made from it keeps running. Retiring a qualified template lowers
        // its protection class, so it is always signed.
        Http.Response unsignedRetire = lab.api().post("/api/v1/templates/master@1/retire",
                "{\"reason\":\"superseded by v2\"}");
        assertThat(unsignedRetire.status()).isEqualTo(403);
        assertThat(unsignedRetire.json().path("code").asText()).isEqualTo("signature-required");
        assertThat(lab.api().get("/api/v1/templates/master@1").json().path("state").asText()).isEqualTo("qualified");
        assertThat(lab.api().post("/api/v1/templates/master@1/retire", "{\"reason\":\"superseded by v2\","
                + Lab.signature("approved") + "}").status()).isEqualTo(200);
        Http.Response retired = lab.api().post("/api/v1/templates/master@1/deploy", "{\"name\":\"late-1\"}");
        assertThat(retired.status()).isEqualTo(409);
        assertThat(retired.json().path("code").asText()).isEqualTo("template-retired");
        assertThat(lab.vm("clone-2").path("state").asText()).isEqualTo("running");
        assertThat(lab.api().post("/api/v1/templates/master@1/qualify", "{" + Lab.signature("approved") + "}")
                .status()).isEqualTo(409);

        // Cloning: refused while the source runs; a stopped VM is copied with a new identity.
        Http.Response running = lab.api().post("/api/v1/vms/clone-2/clone", "{\"name\":\"copy-1\"}");
        assertThat(running.status()).isEqualTo(409);
        assertThat(running.json().path("detail").asText()).contains("shut it down first");
        lab.act("clone-2", "shutdown");
        JsonNode copy = lab.run("/api/v1/vms/clone-2/clone", "{\"name\":\"copy-1\",\"start\":true}");
        assertThat(copy.path("state").asText()).as(copy.toString()).isEqualTo("succeeded");
        GuestProbe.Status g3 = lab.guest("copy-1").awaitReady(BOOT);
        assertThat(g3.uuid()).isEqualTo(lab.vm("copy-1").path("id").asText()).isNotEqualTo(g2.uuid());
        assertThat(g3.diskCounter()).isEqualTo(5);
        assertThat(lab.vm("copy-1").path("disks").get(0).path("baseTemplateId").isNull()
                || lab.vm("copy-1").path("disks").get(0).path("baseTemplateId").isMissingNode()).isTrue();

        // Once no linked clone uses v1, it can be deleted with its base image.
        for (String vm : List.of("clone-2", "copy-1", "full-1")) {
            lab.awaitTask(lab.api().delete("/api/v1/vms/" + vm + "?force=true").json().path("id").asText());
        }
        lab.awaitTask(lab.api().delete("/api/v1/templates/master@1").json().path("id").asText());
        assertThat(base).doesNotExist();
        assertThat(lab.api().get("/api/v1/templates").json().findValuesAsText("label")).containsExactly("master v2");
    }

    @Test
    void badTemplateRequests() {
        Http.Response noVm = lab.api().post("/api/v1/templates", "{\"name\":\"x\"}");
        assertThat(noVm.status()).isEqualTo(400);
        assertThat(noVm.json().path("errors").findValuesAsText("field")).contains("vm");
        assertThat(lab.api().post("/api/v1/templates", "{\"vm\":\"no-such-vm\"}").status()).isEqualTo(404);
        assertThat(lab.api().post("/api/v1/templates/no-such/deploy", "{\"name\":\"x\"}").status()).isEqualTo(404);
        assertThat(lab.api().post("/api/v1/templates", "{\"vm\":\"x\",\"colour\":\"red\"}").json()
                .path("errors").findValuesAsText("field")).contains("colour");
    }

    private JsonNode deploy(String template, String name, String mode) {
        JsonNode task = lab.run("/api/v1/templates/" + template + "/deploy",
                "{\"name\":\"" + name + "\",\"mode\":\"" + mode + "\",\"start\":true}");
        assertThat(task.path("state").asText()).as(task.toString()).isEqualTo("succeeded");
        return lab.vm(name);
    }

    private int countVmDirs() throws Exception {
        try (Stream<Path> dirs = Files.list(lab.dir().resolve("storage/vms"))) {
            return (int) dirs.count();
        }
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }
}
