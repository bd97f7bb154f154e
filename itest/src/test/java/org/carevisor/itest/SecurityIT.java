package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.Test;

/**
 * Users, roles and the audit trail with real guests: an operator whose role covers one VM runs that VM and
 * nothing else; an auditor reads the trail but cannot start a VM; a VM marked GxP needs a reason for every
 * change and an electronic signature to be deleted; the whole trail, with the records of automatic processes,
 * verifies at the end.
 */
class SecurityIT extends ApplianceLabTest {
    @Override
    int guestPortFrom() {
        return 24800;
    }

    private Http user(String name, String role, String scope) {
        lab.api().post("/api/v1/users", "{\"username\":\"" + name + "\",\"fullName\":\"" + name + " Tester\","
                + "\"password\":\"Initial-Pass-123\",\"roles\":[{\"role\":\"" + role + "\",\"scope\":\"" + scope
                + "\"}]}").expect(201);
        Http first = lab.anonymous().login(name, "Initial-Pass-123");
        // a temporary password must be changed first
        assertThat(first.get("/api/v1/vms").expect(403).json().path("code").asText())
                .isEqualTo("password-change-required");
        first.post("/api/v1/auth/password", "{\"currentPassword\":\"Initial-Pass-123\",\"newPassword\":"
                + "\"Changed-Pass-456\"}").expect(204);
        return lab.anonymous().login(name, "Changed-Pass-456");
    }

    @Test
    void rolesScopesGxpAndTheTrail() throws Exception {
        lab.createVm("{\"name\":\"ehr-db\",\"cpus\":1,\"memoryMiB\":128,\"image\":\"carevisor-appliance\"}");
        lab.createVm("{\"name\":\"lab-app\",\"cpus\":1,\"memoryMiB\":128,\"image\":\"carevisor-appliance\"}");

        // an operator of one VM
        Http op = user("olga", "operator", "vm:ehr-db");
        assertThat(op.get("/api/v1/vms").expect(200).json()).extracting(v -> v.path("name").asText())
                .containsExactly("ehr-db");
        JsonNode started = lab.awaitTask(op.post("/api/v1/vms/ehr-db/start", null).expect(202).json().path("id").asText());
        assertThat(started.path("state").asText()).isEqualTo("succeeded");
        assertThat(started.path("actor").asText()).isEqualTo("olga");
        Http.Response other = op.post("/api/v1/vms/lab-app/start", null);
        assertThat(other.status()).isEqualTo(403);
        assertThat(other.json().path("detail").asText()).contains("VM.PowerState", "lab-app", "operator on vm:");
        assertThat(lab.vm("lab-app").path("state").asText()).isEqualTo("stopped");
        GuestProbe guest = lab.guest("ehr-db");
        guest.awaitReady(BOOT);

        // the HA view shows the operator only their VM: not the other VM, not the host, no decisions about them
        for (String vm : new String[] {"ehr-db", "lab-app"}) {
            lab.api().patch("/api/v1/vms/" + vm + "/ha", "{\"enabled\":true}").expect(200);
        }
        Poll.until(Duration.ofSeconds(10), "the HA service to take in both settings",
                () -> lab.api().get("/api/v1/ha").json().path("vms").size() == 2 ? true : null);
        assertThat(lab.api().get("/api/v1/ha").json().path("hosts")).hasSize(1);
        JsonNode haView = op.get("/api/v1/ha").expect(200).json();
        assertThat(haView.path("vms")).extracting(v -> v.path("name").asText()).containsExactly("ehr-db");
        assertThat(haView.path("hosts")).isEmpty();
        for (String vm : new String[] {"ehr-db", "lab-app"}) {
            lab.api().patch("/api/v1/vms/" + vm + "/ha", "{\"enabled\":false}").expect(200);
        }

        // an auditor reads the trail, changes nothing
        Http auditor = user("anna", "auditor", "global");
        JsonNode trail = auditor.get("/api/v1/audit?user=olga&limit=50").expect(200).json();
        assertThat(trail.findValuesAsText("action")).contains("vm.start", "access.denied");
        assertThat(auditor.post("/api/v1/vms/ehr-db/shutdown", null).status()).isEqualTo(403);
        assertThat(op.get("/api/v1/audit").status()).isEqualTo(403);

        // GxP: changes need a reason, deleting needs a signature
        lab.api().withHeader("Carevisor-Reason", "validated system (CSV-2026-17)")
                .patch("/api/v1/vms/ehr-db", "{\"gxp\":true}").expect(200);
        Http.Response noReason = op.post("/api/v1/vms/ehr-db/reboot", null);
        assertThat(noReason.status()).isEqualTo(400);
        assertThat(noReason.json().path("code").asText()).isEqualTo("reason-required");
        JsonNode reboot = lab.awaitTask(op.withHeader("Carevisor-Reason", "INC-4711 hung service")
                .post("/api/v1/vms/ehr-db/reboot", null).expect(202).json().path("id").asText());
        assertThat(reboot.path("state").asText()).isEqualTo("succeeded");
        JsonNode rebootRecord = auditor.get("/api/v1/audit?action=vm.reboot&limit=1").json().get(0);
        assertThat(rebootRecord.path("reason").asText()).contains("INC-4711");
        assertThat(rebootRecord.path("actor").asText()).isEqualTo("olga");
        Http.Response unsigned = lab.api().withHeader("Carevisor-Reason", "decommissioned")
                .delete("/api/v1/vms/ehr-db?force=true");
        assertThat(unsigned.status()).isEqualTo(403);
        assertThat(unsigned.json().path("code").asText()).isEqualTo("signature-required");
        assertThat(lab.vm("ehr-db").path("state").asText()).isEqualTo("running");
        JsonNode deleted = lab.awaitTask(lab.api().withHeader("Carevisor-Reason", "decommissioned")
                .send("DELETE", "/api/v1/vms/ehr-db?force=true", "{" + Lab.signature("responsible") + "}")
                .expect(202).json().path("id").asText());
        assertThat(deleted.path("state").asText()).isEqualTo("succeeded");
        JsonNode deleteRecord = auditor.get("/api/v1/audit?action=vm.delete&limit=1").json().get(0);
        assertThat(deleteRecord.path("signature").path("meaning").asText()).isEqualTo("responsible");
        assertThat(deleteRecord.path("signature").path("printedName").asText()).isEqualTo("Administrator");

        // the trail - people, the reconciler, agents - is intact
        JsonNode verify = auditor.post("/api/v1/audit/verify", null).expect(200).json();
        assertThat(verify.path("ok").asBoolean()).as(verify.toString()).isTrue();
        assertThat(verify.path("records").asLong()).isGreaterThan(20);
    }
}
