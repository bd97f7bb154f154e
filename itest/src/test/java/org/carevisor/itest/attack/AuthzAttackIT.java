package org.carevisor.itest.attack;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.Poll;
import org.carevisor.testkit.QemuProcesses;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Authorization gaps tried as an attacker would, against a real lab (manager and agent processes, one host in
 * cluster icu, real qcow2 disks): a request that names a host, cluster, VM or template it has no rights on, in its
 * body or implicitly, is refused 403 with a problem naming the privilege and the object, the refusal is in the
 * audit trail, and nothing changed (VMs, hosts, templates, rules, HA settings compared before and after); the
 * same requests by a caller with the rights pass the check. Also: removing a GxP mark needs a signature, scoped
 * callers see their tasks and rules, and the real server sends the security headers and refuses non-JSON bodies.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AuthzAttackIT {
    @TempDir
    static Path dir;
    static Lab lab;
    static Http admin;
    static String hostId;
    static String hostName;
    static Http dora;   // vm-admin on cluster default (where no host is)
    static Http ivan;   // vm-admin on cluster icu
    static Http hank;   // vm-admin on the host only
    static Http olga;   // operator of VM ehr-db only
    static Http tina;   // template-manager everywhere, nothing on VMs
    static Http icuAdmin;  // host-admin on cluster icu
    static Http hostAdmin; // host-admin on the host and on cluster lab2

    @BeforeAll
    static void startLab() throws Exception {
        Path blank = dir.resolve("blank.qcow2");
        new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", blank.toString(), "32M").start().waitFor();
        lab = Lab.start(dir.resolve("lab"), 25600, blank);
        admin = lab.api();
        hostId = lab.hosts().get(0).id();
        hostName = admin.get("/api/v1/hosts/" + hostId).expect(200).json().path("name").asText();
        admin.post("/api/v1/clusters", "{\"name\":\"icu\"}").expect(201);
        admin.post("/api/v1/clusters", "{\"name\":\"lab2\"}").expect(201);
        admin.patch("/api/v1/hosts/" + hostId, "{\"cluster\":\"icu\"}").expect(200);
        admin.post("/api/v1/roles", "{\"name\":\"vm-admin\",\"privileges\":[\"VM.Configure\",\"Sys.View\"]}").expect(201);
        admin.post("/api/v1/roles", "{\"name\":\"host-admin\",\"privileges\":[\"Host.Admin\",\"Sys.View\"]}").expect(201);
        admin.post("/api/v1/roles", "{\"name\":\"template-manager\",\"privileges\":[\"Template.Manage\",\"Sys.View\"]}")
                .expect(201);
        lab.createVm("{\"name\":\"ehr-db\",\"cpus\":1,\"memoryMiB\":32,\"image\":\"blank\",\"cluster\":\"icu\"}");
        lab.createVm("{\"name\":\"lab-app\",\"cpus\":1,\"memoryMiB\":32,\"image\":\"blank\",\"cluster\":\"icu\"}");
        dora = user("dora", "vm-admin:cluster:default");
        ivan = user("ivan", "vm-admin:cluster:icu");
        hank = user("hank", "vm-admin:host:" + hostName);
        olga = user("olga", "operator:vm:ehr-db");
        tina = user("tina", "template-manager:global");
        icuAdmin = user("ian", "host-admin:cluster:icu");
        hostAdmin = user("hera", "host-admin:host:" + hostName, "host-admin:cluster:lab2");
    }

    @AfterAll
    static void stopLab() {
        if (lab != null) {
            lab.close();
        }
        assertThat(QemuProcesses.find(dir.toString())).isEmpty();
    }

    /** A user with the given "role:scope" assignments, logged in, the temporary password changed. */
    static Http user(String name, String... grants) {
        List<String> roles = new ArrayList<>();
        for (String g : grants) {
            int colon = g.indexOf(':');
            roles.add("{\"role\":\"" + g.substring(0, colon) + "\",\"scope\":\"" + g.substring(colon + 1) + "\"}");
        }
        admin.post("/api/v1/users", "{\"username\":\"" + name + "\",\"fullName\":\"" + name + " Attacker\","
                + "\"password\":\"Initial-Pass-123\",\"roles\":[" + String.join(",", roles) + "]}").expect(201);
        lab.anonymous().login(name, "Initial-Pass-123").post("/api/v1/auth/password",
                "{\"currentPassword\":\"Initial-Pass-123\",\"newPassword\":\"Changed-Pass-456\"}").expect(204);
        return lab.anonymous().login(name, "Changed-Pass-456");
    }

    /** What must not change when a request is refused. */
    private static String state() {
        StringBuilder s = new StringBuilder();
        for (JsonNode v : admin.get("/api/v1/vms").expect(200).json()) {
            s.append(v.path("id").asText()).append(' ').append(v.path("name").asText()).append(' ')
                    .append(v.path("clusterId").asText()).append(' ').append(v.path("hostId").asText()).append(' ')
                    .append(v.path("gxp").asBoolean()).append(' ').append(v.path("lifecycle").asText()).append(' ')
                    .append(admin.get("/api/v1/vms/" + v.path("id").asText() + "/ha").json()).append(";\n");
        }
        for (JsonNode h : admin.get("/api/v1/hosts").expect(200).json()) {
            s.append(h.path("id").asText()).append(' ').append(h.path("clusterId").asText()).append(' ')
                    .append(h.path("maintenance").asText()).append(";\n");
        }
        s.append(admin.get("/api/v1/templates").expect(200).json().findValuesAsText("id")).append('\n');
        s.append(admin.get("/api/v1/placement-rules").expect(200).json().findValuesAsText("id")).append('\n');
        return s.toString();
    }

    private static long head() {
        return admin.get("/api/v1/audit/checkpoints").expect(200).json().path("head").path("seq").asLong();
    }

    /**
     * Sends a request that must be refused: checks the problem document, that nothing changed, and for 403 that
     * the audit trail has the refusal ({@code auditAction}) by that user for that endpoint since the request.
     */
    private static JsonNode refused(Http who, String user, String method, String path, String body, int status,
                                    String code, String auditAction) {
        String before = state();
        long seq = head();
        Http.Response r = who.send(method, path, body);
        assertThat(r.status()).as(method + " " + path + " " + body + " -> " + r.text()).isEqualTo(status);
        assertThat(r.contentType()).startsWith("application/problem+json");
        JsonNode p = r.json();
        assertThat(p.path("code").asText()).isEqualTo(code);
        assertThat(p.path("detail").asText()).isNotBlank();
        assertThat(state()).as("nothing changed after " + method + " " + path).isEqualTo(before);
        JsonNode records = admin.get("/api/v1/audit?user=" + user + "&limit=50").expect(200).json();
        List<JsonNode> since = new ArrayList<>();
        records.forEach(x -> {
            if (x.path("seq").asLong() > seq) {
                since.add(x);
            }
        });
        if (auditAction == null) {
            assertThat(since).as("no audit record for a malformed request").isEmpty();
        } else {
            assertThat(since).as("the refusal is audited").anySatisfy(x -> {
                assertThat(x.path("action").asText()).isEqualTo(auditAction);
                assertThat(x.path("outcome").asText()).isIn("refused", "failure");
            });
        }
        return p;
    }

    private static String vm(String name, String extra) {
        return "{\"name\":\"" + name + "\",\"cpus\":1,\"memoryMiB\":32,\"image\":\"blank\"" + extra + "}";
    }

    @Test
    @Order(1)
    void aNewVmIsCheckedWhereItWillBe() {
        // a host of cluster icu named without a cluster: checked on the host, not on the default cluster
        JsonNode p = refused(dora, "dora", "POST", "/api/v1/vms", vm("sneaky-1", ",\"host\":\"" + hostName + "\""),
                403, "forbidden", "access.denied");
        assertThat(p.path("detail").asText()).contains("VM.Configure", "host '" + hostName + "'");
        // neither host nor cluster: where the VM would go (icu, the only cluster with a reporting host)
        assertThat(refused(dora, "dora", "POST", "/api/v1/vms", vm("sneaky-2", ""), 403, "forbidden",
                "access.denied").path("detail").asText()).contains("cluster 'icu'");
        // a cluster the caller holds, with a host of another cluster: the host is checked too
        assertThat(refused(dora, "dora", "POST", "/api/v1/vms", vm("sneaky-3", ",\"cluster\":\"default\",\"host\":\""
                + hostId + "\""), 403, "forbidden", "access.denied").path("detail").asText()).contains(hostName);
        // a number where a name belongs is not a name
        assertThat(refused(dora, "dora", "POST", "/api/v1/vms", vm("sneaky-4", ",\"cluster\":42"), 400,
                "validation-failed", null).path("errors").findValuesAsText("field")).containsExactly("cluster");
        // an unknown host: checked against everything, so nobody learns which names exist
        assertThat(refused(dora, "dora", "POST", "/api/v1/vms", vm("sneaky-5", ",\"host\":\"nope\""), 403,
                "forbidden", "access.denied").path("detail").asText()).contains("host 'nope'");
        // with the rights on the cluster or on the host itself, the same request works
        JsonNode byCluster = lab.awaitTask(ivan.post("/api/v1/vms", vm("icu-own", ",\"host\":\"" + hostName + "\""))
                .expect(202).json().path("id").asText());
        assertThat(byCluster.path("actor").asText()).isEqualTo("ivan");
        assertThat(admin.get("/api/v1/vms/icu-own").json().path("cluster").asText()).isEqualTo("icu");
        lab.awaitTask(hank.post("/api/v1/vms", vm("host-own", ",\"host\":\"" + hostName + "\"")).expect(202).json()
                .path("id").asText());
        assertThat(admin.get("/api/v1/vms/host-own").json().path("hostId").asText()).isEqualTo(hostId);
    }

    @Test
    @Order(2)
    void movingAHostNeedsTheClusterItLeavesAndTheOneItJoins() {
        String path = "/api/v1/hosts/" + hostId;
        assertThat(refused(icuAdmin, "ian", "PATCH", path, "{\"cluster\":\"lab2\"}", 403, "forbidden",
                "access.denied").path("detail").asText()).contains("Host.Admin", "cluster 'lab2'");
        assertThat(refused(hostAdmin, "hera", "PATCH", path, "{\"cluster\":\"lab2\"}", 403, "forbidden",
                "access.denied").path("detail").asText()).contains("Host.Admin", "cluster 'icu'");
        refused(hostAdmin, "hera", "PATCH", path, "{\"cluster\":7}", 400, "validation-failed", null);
        // a host administrator of the host may still change what is the host's own
        hostAdmin.patch(path, "{\"description\":\"rack 4\"}").expect(200);
        // with both clusters the check passes, and the host's state decides (it still has VMs)
        Http both = user("bert", "host-admin:cluster:icu", "host-admin:cluster:lab2");
        assertThat(both.patch(path, "{\"cluster\":\"lab2\"}").expect(409).json().path("code").asText())
                .isEqualTo("host-not-empty");
    }

    @Test
    @Order(3)
    void objectsNamedInOtherBodiesAreCheckedToo() {
        // migration to a named host: the VM enters that host's scope
        assertThat(refused(olga, "olga", "POST", "/api/v1/vms/ehr-db/migrate", "{\"host\":\"" + hostName + "\"}",
                403, "forbidden", "access.denied").path("detail").asText()).contains("VM.Migrate", hostName);
        // a template consumes its VM
        assertThat(refused(tina, "tina", "POST", "/api/v1/templates", "{\"vm\":\"ehr-db\"}", 403, "forbidden",
                "access.denied").path("detail").asText()).contains("VM.Configure", "VM 'ehr-db'");
        // a clone is a new VM in the source's cluster
        assertThat(refused(olga, "olga", "POST", "/api/v1/vms/ehr-db/clone", "{\"name\":\"copy\"}", 403,
                "forbidden", "access.denied").path("detail").asText()).contains("VM.Configure", "cluster 'icu'");
        // an HA dependency names a VM the caller cannot see (or one that does not exist: the same answer)
        assertThat(refused(olga, "olga", "PATCH", "/api/v1/vms/ehr-db/ha", "{\"dependsOn\":[\"lab-app\"]}", 403,
                "forbidden", "access.denied").path("detail").asText()).contains("Sys.View", "VM 'lab-app'");
        refused(olga, "olga", "PATCH", "/api/v1/vms/ehr-db/ha", "{\"dependsOn\":[\"ghost\"]}", 403, "forbidden",
                "access.denied");
        // within the caller's rights these work
        olga.patch("/api/v1/vms/ehr-db/ha", "{\"priority\":10}").expect(200);
        ivan.patch("/api/v1/vms/icu-own/ha", "{\"dependsOn\":[\"lab-app\"]}").expect(200);
    }

    @Test
    @Order(4)
    void removingTheGxpMarkNeedsASignature() {
        admin.withHeader("Carevisor-Reason", "validated system (CSV-2026-17)").patch("/api/v1/vms/ehr-db",
                "{\"gxp\":true}").expect(200);
        Http withReason = admin.withHeader("Carevisor-Reason", "decommissioning");
        // a GxP VM cannot lose its protection by becoming a template
        assertThat(refused(withReason, "admin", "POST", "/api/v1/templates", "{\"vm\":\"ehr-db\"}", 409, "vm-gxp",
                null).path("detail").asText()).contains("remove the GxP mark first");
        // a reason alone is not enough
        JsonNode p = refused(withReason, "admin", "PATCH", "/api/v1/vms/ehr-db", "{\"gxp\":false}", 403,
                "signature-required", "signature.missing");
        assertThat(p.path("detail").asText()).contains("vm.gxp-remove", "ehr-db");
        // nor a signature with a wrong password
        refused(withReason, "admin", "PATCH", "/api/v1/vms/ehr-db", "{\"gxp\":false,\"signature\":{\"username\":"
                + "\"admin\",\"password\":\"wrong\",\"meaning\":\"approved\"}}", 403, "signature-invalid",
                "signature.failed");
        assertThat(admin.get("/api/v1/vms/ehr-db").json().path("gxp").asBoolean()).isTrue();
        // signed, it is removed, and the trail shows who signed with what meaning
        withReason.patch("/api/v1/vms/ehr-db", "{\"gxp\":false," + Lab.signature("approved") + "}").expect(200);
        assertThat(admin.get("/api/v1/vms/ehr-db").json().path("gxp").asBoolean()).isFalse();
        JsonNode record = admin.get("/api/v1/audit?action=vm.update&limit=1").json().get(0);
        assertThat(record.path("signature").path("meaning").asText()).isEqualTo("approved");
        assertThat(record.path("reason").asText()).isEqualTo("decommissioning");
        // other changes of the (no longer GxP) VM need no signature
        admin.patch("/api/v1/vms/ehr-db", "{\"description\":\"former GxP system\"}").expect(200);
    }

    @Test
    @Order(5)
    void placementRulesAreShownOnlyWithTheirVms() {
        JsonNode rule = admin.post("/api/v1/placement-rules", "{\"name\":\"apart\",\"type\":\"vm-anti-affinity\","
                + "\"enforcement\":\"should\",\"vms\":[\"ehr-db\",\"lab-app\"]}").expect(201).json();
        assertThat(olga.get("/api/v1/placement-rules").expect(200).json().findValuesAsText("name"))
                .doesNotContain("apart");
        JsonNode p = refused(olga, "olga", "GET", "/api/v1/placement-rules/apart", null, 403, "forbidden",
                "access.denied");
        assertThat(p.path("detail").asText()).contains("Sys.View", "VM 'lab-app'");
        assertThat(p.toString()).doesNotContain(rule.path("id").asText());
        assertThat(ivan.get("/api/v1/placement-rules").expect(200).json().findValuesAsText("name")).contains("apart");
        ivan.get("/api/v1/placement-rules/apart").expect(200);
    }

    @Test
    @Order(6)
    void aScopedOperatorSeesTheirTasksBehindManyOthers() {
        for (int i = 0; i < 55; i++) {
            lab.run("/api/v1/vms/lab-app/snapshots", "{\"name\":\"s" + i + "\"}");
        }
        JsonNode newest = admin.get("/api/v1/tasks").expect(200).json();
        assertThat(newest).hasSize(50);
        assertThat(newest.findValuesAsText("name")).containsOnly("lab-app");
        JsonNode mine = olga.get("/api/v1/tasks").expect(200).json();
        assertThat(mine).isNotEmpty();
        assertThat(mine.findValuesAsText("name")).containsOnly("ehr-db");
        assertThat(olga.get("/api/v1/tasks?limit=-1").status()).isEqualTo(400);
        // the VM's history: bounded, only the VM's records
        assertThat(olga.get("/api/v1/vms/ehr-db/history?limit=0").status()).isEqualTo(400);
        JsonNode history = olga.get("/api/v1/vms/ehr-db/history?limit=5").expect(200).json();
        assertThat(history.size()).isBetween(1, 5);
        String id = admin.get("/api/v1/vms/ehr-db").json().path("id").asText();
        history.forEach(r -> {
            assertThat(r.path("targetType").asText()).isEqualTo("vm");
            assertThat(r.path("targetId").asText()).isEqualTo(id);
        });
    }

    @Test
    @Order(7)
    void theRealServerSendsSecurityHeadersAndTakesJsonOnly() {
        Http.Response page = lab.anonymous().get("/");
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.header("Content-Security-Policy")).contains("default-src 'self'", "frame-ancestors 'none'");
        assertThat(page.header("X-Frame-Options")).isEqualTo("DENY");
        assertThat(page.header("X-Content-Type-Options")).isEqualTo("nosniff");
        assertThat(page.header("Referrer-Policy")).isEqualTo("no-referrer");
        assertThat(admin.get("/api/v1/vms").header("Cache-Control")).isEqualTo("no-store");
        long sessions = admin.get("/api/v1/audit?action=auth.login&limit=10000").json().size();
        Http.Response login = lab.anonymous().sendAs("POST", "/api/v1/auth/login", "text/plain",
                "{\"username\":\"" + Lab.ADMIN + "\",\"password\":\"" + Lab.ADMIN_PASSWORD + "\"}");
        assertThat(login.status()).isEqualTo(415);
        assertThat(login.json().path("detail").asText()).contains("text/plain");
        assertThat(admin.get("/api/v1/audit?action=auth.login&limit=10000").json().size()).isEqualTo(sessions);
        assertThat(admin.get("/api/v1/audit?action=request.refused&limit=1").json().get(0).path("targetName")
                .asText()).isEqualTo("POST /api/v1/auth/login");
        // and the whole trail, refusals included, verifies
        assertThat(admin.post("/api/v1/audit/verify", null).expect(200).json().path("ok").asBoolean()).isTrue();
    }

    @Test
    @Order(8)
    void aScopedOperatorFollowsTheTaskThatDeletedTheirVm() throws Exception {
        lab.createVm("{\"name\":\"scratch-1\",\"cpus\":1,\"memoryMiB\":32,\"image\":\"blank\",\"cluster\":\"icu\"}");
        Http otto = user("otto", "operator:vm:scratch-1");
        long denials = admin.get("/api/v1/audit?action=access.denied&limit=10000").json().size();
        JsonNode task = otto.send("DELETE", "/api/v1/vms/scratch-1", null)
                .expect(202).json();
        String id = task.path("id").asText();
        // the VM (the task's only scope) is gone: the one who started the task still sees how it ended
        JsonNode end = Poll.until(java.time.Duration.ofSeconds(60), "the delete task to end", () -> {
            JsonNode t = otto.get("/api/v1/tasks/" + id).expect(200).json();
            return t.path("state").asText().equals("running") || t.path("state").asText().equals("queued") ? null : t;
        });
        assertThat(end.path("state").asText()).as(end.toString()).isEqualTo("succeeded");
        assertThat(admin.get("/api/v1/vms/scratch-1").status()).isEqualTo(404);
        assertThat(otto.get("/api/v1/tasks").expect(200).json().findValuesAsText("id")).contains(id);
        // nobody else sees it through it, and no spurious denial was recorded
        assertThat(olga.get("/api/v1/tasks/" + id).status()).isEqualTo(403);
        assertThat(olga.get("/api/v1/tasks").expect(200).json().findValuesAsText("id")).doesNotContain(id);
        assertThat(admin.get("/api/v1/audit?action=access.denied&limit=10000").json().size())
                .as("only olga's refused look was recorded").isEqualTo(denials + 1);
    }
}
