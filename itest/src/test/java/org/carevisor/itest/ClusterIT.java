package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Http;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Clusters of real hosts: maintenance mode empties a host while keeping a redundant pair apart, and every
 * refused placement or rule names the reason, changing nothing.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterIT extends ClusterLabTest {
    @Override
    int guestPortFrom() {
        return 24600;
    }

    @Test
    @Order(1)
    void maintenanceEmptiesTheHostAndKeepsTheRedundantPairApart() throws Exception {
        // pacs-a and pacs-b are a redundant pair; pacs-b runs on lab-h2, so pacs-a can only go to lab-h3
        bridgedVm("pacs-b", 128, "lab-h2");
        Map<String, String> boots = new HashMap<>();
        for (String name : new String[] {"pacs-a", "ehr-1", "lab-1", "ris-1"}) {
            bridgedVm(name, 128, "lab-h1");
        }
        Http.Response rule = lab.api().post("/api/v1/placement-rules", "{\"name\":\"pacs-pair\",\"type\":"
                + "\"vm-anti-affinity\",\"enforcement\":\"must\",\"vms\":[\"pacs-a\",\"pacs-b\"],"
                + "\"description\":\"PACS servers of the redundant pair never share a host\"}");
        assertThat(rule.status()).as(rule.text()).isEqualTo(201);
        for (String name : new String[] {"pacs-a", "ehr-1", "lab-1", "ris-1"}) {
            boots.put(name, lab.guest(name).awaitReady(BOOT).bootId());
        }

        JsonNode task = lab.run("/api/v1/hosts/lab-h1/maintenance", "{\"reason\":\"CHG-1234 replace DIMM\"}");
        assertThat(task.path("state").asText()).as(task.toString()).isEqualTo("succeeded");
        assertThat(task.path("message").asText()).contains("4 VM(s) moved");

        JsonNode host = lab.api().get("/api/v1/hosts/lab-h1").json();
        assertThat(host.path("maintenance").asText()).isEqualTo("in-maintenance");
        assertThat(host.path("runningVms").asInt()).isZero();
        assertThat(host.path("maintenanceReason").asText()).isEqualTo("CHG-1234 replace DIMM");
        assertThat(lab.vm("pacs-a").path("host").asText()).isEqualTo("lab-h3");
        for (Map.Entry<String, String> e : boots.entrySet()) {
            JsonNode vm = lab.vm(e.getKey());
            assertThat(vm.path("host").asText()).as(e.getKey()).isNotEqualTo("lab-h1");
            assertThat(vm.path("state").asText()).as(e.getKey()).isEqualTo("running");
            GuestProbe.Status s = lab.guest(e.getKey()).awaitReady(Duration.ofSeconds(20));
            assertThat(s.bootId()).as("%s did not reboot", e.getKey()).isEqualTo(e.getValue());
        }
        JsonNode evacuation = lab.api().get("/api/v1/hosts/lab-h1/evacuation").json();
        assertThat(evacuation).hasSize(4);
        evacuation.forEach(o -> assertThat(o.path("result").asText()).isEqualTo("moved"));
        assertThat(lab.api().get("/api/v1/placement-rules/pacs-pair").json().path("violations")).isEmpty();

        // No new VM goes to a host in maintenance, and a migration there is refused with the reason.
        Http.Response create = lab.api().post("/api/v1/vms", "{\"name\":\"new-1\",\"cpus\":1,\"memoryMiB\":64,"
                + "\"image\":\"carevisor-appliance\",\"host\":\"lab-h1\",\"nics\":[{\"network\":\"lab\"}]}");
        assertThat(create.status()).isEqualTo(409);
        assertThat(create.json().path("code").asText()).isEqualTo("placement-refused");
        assertThat(create.json().path("detail").asText()).contains("host lab-h1: in maintenance");
        Http.Response toMaintenance = lab.api().post("/api/v1/vms/ehr-1/migrate", "{\"host\":\"lab-h1\"}");
        assertThat(toMaintenance.status()).isEqualTo(409);
        assertThat(toMaintenance.json().path("detail").asText()).contains("in maintenance");
        assertThat(lab.api().get("/api/v1/vms/new-1").status()).as("nothing was created").isEqualTo(404);

        // Leaving maintenance makes the host available again.
        assertThat(lab.api().delete("/api/v1/hosts/lab-h1/maintenance").status()).isEqualTo(200);
        assertThat(lab.api().get("/api/v1/hosts/lab-h1").json().path("maintenance").asText()).isEqualTo("none");
        JsonNode back = lab.run("/api/v1/vms/ehr-1/migrate", "{\"host\":\"lab-h1\"}");
        assertThat(back.path("state").asText()).as(back.toString()).isEqualTo("succeeded");
        JsonNode history = lab.api().get("/api/v1/audit?target=" + host.path("id").asText()).json();
        assertThat(history.toString()).contains("host.maintenance.enter").contains("host.maintenance.exit")
                .contains("CHG-1234 replace DIMM");
        for (String name : new String[] {"pacs-a", "pacs-b", "ehr-1", "lab-1", "ris-1"}) {
            delete(name);
        }
    }

    @Test
    @Order(2)
    void refusedPlacementsAndRulesNameTheReasonAndChangeNothing() throws Exception {
        bridgedVm("bad-1", 128, "lab-h1");
        bridgedVm("bad-2", 128, "lab-h2");
        lab.guest("bad-1").awaitReady(BOOT);
        String auditBefore = lab.api().get("/api/v1/vms/bad-1/history").text();

        // A destination without room: lab-h3 keeps all but 64 MiB for itself.
        long memory = lab.api().get("/api/v1/hosts/lab-h3").json().path("memoryMiB").asLong();
        assertThat(lab.api().patch("/api/v1/hosts/lab-h3", "{\"reservedMemoryMiB\":" + (memory - 64) + "}")
                .status()).isEqualTo(200);
        refused("/api/v1/vms/bad-1/migrate", "{\"host\":\"lab-h3\"}", 409, "placement-refused",
                "host lab-h3: not enough memory: 128 MiB needed");
        assertThat(lab.api().patch("/api/v1/hosts/lab-h3", "{\"reservedMemoryMiB\":512}").status()).isEqualTo(200);

        // A destination in another cluster: lab-h3 (empty) moves to cluster "dmz".
        assertThat(lab.api().post("/api/v1/clusters", "{\"name\":\"dmz\",\"criticality\":\"low\"}").status())
                .isEqualTo(201);
        JsonNode moved = lab.api().patch("/api/v1/hosts/lab-h3", "{\"cluster\":\"dmz\"}").expect(200).json();
        assertThat(moved.path("cluster").asText()).isEqualTo("dmz");
        refused("/api/v1/vms/bad-1/migrate", "{\"host\":\"lab-h3\"}", 409, "placement-refused",
                "host lab-h3: in another cluster");
        // a host with VMs cannot change cluster
        refused("/api/v1/hosts/lab-h1", "{\"cluster\":\"dmz\"}", 409, "host-not-empty", "bad-1", "PATCH");
        lab.api().patch("/api/v1/hosts/lab-h3", "{\"cluster\":\"default\"}").expect(200);

        // Breaking an anti-affinity rule.
        lab.api().post("/api/v1/placement-rules", "{\"name\":\"bad-pair\",\"type\":\"vm-anti-affinity\","
                + "\"enforcement\":\"must\",\"vms\":[\"bad-1\",\"bad-2\"]}").expect(201);
        refused("/api/v1/vms/bad-1/migrate", "{\"host\":\"lab-h2\"}", 409, "placement-refused",
                "rule 'bad-pair' (VMs apart, must): VM 'bad-2' runs here");

        // Rules that cannot all hold are refused when created, naming the conflict.
        refused("/api/v1/placement-rules", "{\"name\":\"bad-together\",\"type\":\"vm-affinity\",\"enforcement\":"
                + "\"must\",\"vms\":[\"bad-1\",\"bad-2\"]}", 409, "rule-conflict", "rule 'bad-pair'");
        lab.api().post("/api/v1/placement-rules", "{\"name\":\"bad-lic\",\"type\":\"vm-host\",\"enforcement\":"
                + "\"must\",\"vms\":[\"bad-1\"],\"hostTag\":\"lic-pacs\",\"hostRelation\":\"run-on\"}").expect(201);
        refused("/api/v1/placement-rules", "{\"name\":\"bad-avoid\",\"type\":\"vm-host\",\"enforcement\":"
                + "\"must\",\"vms\":[\"bad-1\"],\"hostTag\":\"lic-pacs\",\"hostRelation\":\"avoid\"}", 409,
                "rule-conflict", "rule 'bad-lic'");
        // the licence rule holds for the running VM only on tagged hosts: migrate is refused until a host is tagged
        refused("/api/v1/vms/bad-1/migrate", "{\"host\":\"lab-h3\"}", 409, "placement-refused",
                "host is not tagged lic-pacs");
        lab.api().patch("/api/v1/hosts/lab-h3", "{\"tags\":[\"lic-pacs\"]}").expect(200);
        JsonNode licensed = lab.run("/api/v1/vms/bad-1/migrate", "{\"host\":\"lab-h3\"}");
        assertThat(licensed.path("state").asText()).as(licensed.toString()).isEqualTo("succeeded");

        // A VM on local storage cannot move.
        lab.createVm("{\"name\":\"bad-local\",\"cpus\":1,\"memoryMiB\":64,\"image\":\"carevisor-appliance\","
                + "\"host\":\"lab-h2\",\"storage\":\"local\",\"nics\":[{\"network\":\"lab\"}],\"start\":true}");
        assertThat(lab.vm("bad-local").path("storage").asText()).isEqualTo("local");
        assertThat(lab.vm("bad-local").path("disks").get(0).path("path").asText()).startsWith("local/");
        refused("/api/v1/vms/bad-local/migrate", null, 409, "local-storage", "local storage");

        // Invalid requests name the field.
        refused("/api/v1/vms/bad-2/migrate", "{\"bandwidthMiBps\":0}", 400, "validation-failed", "bandwidthMiBps");
        refused("/api/v1/vms/bad-2/migrate", "{\"host\":\"nowhere\"}", 400, "validation-failed", "no host 'nowhere'");
        refused("/api/v1/placement-rules", "{\"name\":\"x\",\"type\":\"vm-apart\",\"enforcement\":\"maybe\","
                + "\"vms\":[\"bad-1\"]}", 400, "validation-failed", "type");
        refused("/api/v1/clusters", "{\"name\":\"c/2\",\"criticality\":\"vital\",\"memoryOvercommit\":9}", 400,
                "validation-failed", "criticality");

        // None of the refusals changed the VMs: bad-2 never moved, bad-1 only by its successful migration.
        assertThat(lab.vm("bad-2").path("host").asText()).isEqualTo("lab-h2");
        String auditAfter = lab.api().get("/api/v1/vms/bad-1/history").text();
        assertThat(auditAfter.length()).isGreaterThan(auditBefore.length());
        for (String name : new String[] {"bad-1", "bad-2", "bad-local"}) {
            delete(name);
        }
    }

    private void delete(String vm) {
        lab.awaitTask(lab.api().delete("/api/v1/vms/" + vm + "?force=true").expect(202).json().path("id").asText());
    }

    private void refused(String path, String body, int status, String code, String detail) {
        refused(path, body, status, code, detail, "POST");
    }

    private void refused(String path, String body, int status, String code, String detail, String method) {
        Http.Response r = lab.api().send(method, path, body);
        assertThat(r.status()).as(r.text()).isEqualTo(status);
        assertThat(r.json().path("code").asText()).as(r.text()).isEqualTo(code);
        assertThat(r.json().path("detail").asText()).as(r.text()).contains(detail);
    }
}
