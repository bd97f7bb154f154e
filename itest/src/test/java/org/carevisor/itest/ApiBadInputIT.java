package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.QemuProcesses;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every bad input of the VM API gets a 4xx RFC 9457 problem naming the field, and nothing is created or
 * changed: the VM list, the audit trail and the storage directory are the same before and after. Runs a
 * real manager and agent; the "running VM" is a real QEMU booting an empty disk.
 */
class ApiBadInputIT {
    @TempDir
    static Path dir;
    static Lab lab;
    static Http api;
    static String runningId;

    @BeforeAll
    static void startLab() throws Exception {
        Path blank = dir.resolve("blank.qcow2");
        new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", blank.toString(), "64M").start().waitFor();
        lab = Lab.start(dir.resolve("lab"), 21000, blank);
        api = lab.api();
        JsonNode vm = lab.createVm("{\"name\":\"running-1\",\"cpus\":1,\"memoryMiB\":32,\"image\":\"blank\",\"start\":true}");
        runningId = vm.path("id").asText();
        lab.awaitState("running-1", "running", Duration.ofSeconds(30));
        lab.createVm("{\"name\":\"taken\",\"cpus\":1,\"memoryMiB\":32,\"image\":\"blank\"}");
    }

    @AfterAll
    static void stopLab() {
        if (lab != null) {
            lab.close();
        }
        assertThat(QemuProcesses.find(dir.toString())).isEmpty();
    }

    /** What must not change when a request is refused. */
    private record Snapshot(String vms, long auditHead, List<String> storage) {
    }

    private static Snapshot snapshot() throws IOException {
        JsonNode vms = api.get("/api/v1/vms").json();
        StringBuilder s = new StringBuilder();
        for (JsonNode v : vms) {
            s.append(v.path("id").asText()).append(v.path("name").asText()).append(v.path("cpus").asInt())
                    .append(v.path("memoryMiB").asInt()).append(v.path("powerState").asText())
                    .append(v.path("state").asText()).append(';');
        }
        JsonNode audit = api.get("/api/v1/audit?limit=1").json();
        Path storage = lab.dir().resolve("storage");
        Path leases = storage.resolve(".carevisor"); // the agent renews its HA lease there every few seconds
        try (Stream<Path> files = Files.walk(storage)) {
            return new Snapshot(s.toString(), audit.get(0).path("seq").asLong(),
                    files.filter(f -> !f.startsWith(leases)).map(Path::toString).sorted().toList());
        }
    }

    /** Sends a bad request; checks the problem document and that nothing changed. */
    private static JsonNode refused(String method, String path, String body, int status, String field)
            throws IOException {
        Snapshot before = snapshot();
        Http.Response r = api.send(method, path, body);
        assertThat(r.status()).as(method + " " + path + " " + body + " -> " + r.text()).isEqualTo(status);
        assertThat(r.contentType()).startsWith("application/problem+json");
        JsonNode p = r.json();
        assertThat(p.path("type").asText()).startsWith("https://carevisor.org/problems/");
        assertThat(p.path("title").asText()).isNotBlank();
        assertThat(p.path("status").asInt()).isEqualTo(status);
        assertThat(p.path("detail").asText()).isNotBlank();
        assertThat(p.path("code").asText()).isNotBlank();
        if (field != null) {
            assertThat(p.path("errors").findValuesAsText("field")).as(p.toString()).contains(field);
        }
        assertThat(snapshot()).as("nothing changed after " + method + " " + path).isEqualTo(before);
        return p;
    }

    private static String vm(String name, int cpus, int memory) {
        return "{\"name\":" + Http.json().valueToTree(name) + ",\"cpus\":" + cpus + ",\"memoryMiB\":" + memory
                + ",\"image\":\"blank\"}";
    }

    @Test
    void zeroOrNegativeMemory() throws IOException {
        assertThat(refused("POST", "/api/v1/vms", vm("m0", 1, 0), 400, "memoryMiB").path("detail").asText())
                .contains("at least 16");
        refused("POST", "/api/v1/vms", vm("m1", 1, -256), 400, "memoryMiB");
    }

    @Test
    void moreCpusOrMemoryThanTheHost() throws IOException {
        int cpus = Runtime.getRuntime().availableProcessors();
        assertThat(refused("POST", "/api/v1/vms", vm("c1", cpus + 1, 64), 400, "cpus").path("detail").asText())
                .contains("host's " + cpus + " CPUs");
        refused("POST", "/api/v1/vms", vm("r1", 1, 64 * 1024 * 1024), 400, "memoryMiB");
    }

    @Test
    void duplicateName() throws IOException {
        assertThat(refused("POST", "/api/v1/vms", vm("taken", 1, 64), 409, "name").path("code").asText())
                .isEqualTo("name-taken");
    }

    @Test
    void namesWithSlashDotsOrControlCharacters() throws IOException {
        for (String bad : List.of("a/b", "../etc", "x..y", "bell\u0007", "line\nbreak", "", "a".repeat(64))) {
            refused("POST", "/api/v1/vms", vm(bad, 1, 64), 400, "name");
        }
        refused("PATCH", "/api/v1/vms/taken", "{\"name\":\"a/b\"}", 400, "name");
    }

    @Test
    void unknownVmId() throws IOException {
        String unknown = "/api/v1/vms/00000000-0000-4000-8000-00000000dead";
        assertThat(refused("GET", unknown, null, 404, null).path("code").asText()).isEqualTo("not-found");
        refused("POST", unknown + "/start", null, 404, null);
        refused("POST", unknown + "/shutdown", null, 404, null);
        refused("PATCH", unknown, "{\"cpus\":1}", 404, null);
        refused("DELETE", unknown, null, 404, null);
        refused("GET", unknown + "/console", null, 404, null);
        refused("GET", "/api/v1/tasks/nope", null, 404, null);
    }

    @Test
    void malformedJson() throws IOException {
        JsonNode p = refused("POST", "/api/v1/vms", "{\"name\": \"x\", \"cpus\": 1,", 400, "body");
        assertThat(p.path("code").asText()).isEqualTo("malformed-json");
        assertThat(p.path("detail").asText()).contains("line 1");
        refused("POST", "/api/v1/vms", "[1, 2]", 400, null);
        refused("POST", "/api/v1/vms", "", 400, null);
        refused("POST", "/api/v1/vms", "{\"name\":\"x\",\"cpus\":\"two\",\"memoryMiB\":64}", 400, "cpus");
        refused("POST", "/api/v1/vms", "{\"name\":\"x\",\"cpus\":1.5,\"memoryMiB\":64}", 400, "cpus");
    }

    @Test
    void unknownFields() throws IOException {
        JsonNode p = refused("POST", "/api/v1/vms",
                "{\"name\":\"u1\",\"cpus\":1,\"memoryMiB\":64,\"image\":\"blank\",\"colour\":\"red\"}", 400, "colour");
        assertThat(p.path("detail").asText()).contains("unknown field 'colour'");
        refused("POST", "/api/v1/vms",
                "{\"name\":\"u2\",\"cpus\":1,\"memoryMiB\":64,\"disks\":[{\"sizeMiB\":10,\"bus\":\"ide\"}]}", 400,
                "disks[0].bus");
        refused("PATCH", "/api/v1/vms/taken", "{\"cpu\":2}", 400, "cpu");
    }

    @Test
    void diskLargerThanFreeStorage() throws IOException {
        JsonNode p = refused("POST", "/api/v1/vms",
                "{\"name\":\"big\",\"cpus\":1,\"memoryMiB\":64,\"disks\":[{\"sizeMiB\":1073741824}]}", 400,
                "disks[0].sizeMiB");
        assertThat(p.path("detail").asText()).contains("free");
    }

    @Test
    void deletingARunningVmWithoutForce() throws IOException {
        JsonNode p = refused("DELETE", "/api/v1/vms/running-1", null, 409, null);
        assertThat(p.path("code").asText()).isEqualTo("vm-running");
        assertThat(p.path("detail").asText()).contains("force=true");
        refused("DELETE", "/api/v1/vms/running-1?force=maybe", null, 400, "force");
    }

    @Test
    void startingAVmThatIsAlreadyRunning() throws IOException {
        JsonNode p = refused("POST", "/api/v1/vms/running-1/start", null, 409, null);
        assertThat(p.path("code").asText()).isEqualTo("vm-already-running");
        refused("POST", "/api/v1/vms/running-1/resume", null, 409, null);
        refused("POST", "/api/v1/vms/taken/shutdown", null, 409, null);
        refused("POST", "/api/v1/vms/taken/pause", null, 409, null);
        refused("POST", "/api/v1/vms/running-1/shutdown", "{\"timeoutSeconds\":-1}", 400, "timeoutSeconds");
    }

    @Test
    void resizingARunningVm() throws IOException {
        assertThat(refused("PATCH", "/api/v1/vms/running-1", "{\"memoryMiB\":64}", 409, null).path("code").asText())
                .isEqualTo("vm-running");
        refused("PATCH", "/api/v1/vms/taken", "{\"memoryMiB\":0}", 400, "memoryMiB");
    }

    @Test
    void unknownEndpointsAndMethods() throws IOException {
        refused("GET", "/api/v1/nothing-here", null, 404, null);
        refused("PUT", "/api/v1/vms", "{}", 405, null);
    }
}
