package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.carevisor.manager.ha.fence.LabFenceAgent;
import org.carevisor.qemu.QemuCommandLine;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.Poll;
import org.carevisor.testkit.QemuProcesses;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * High availability with real faults in the three-host lab: a host loses power (every process of its namespace
 * killed), an agent freezes (SIGSTOP), a host's network is cut, a guest's QEMU dies and a guest stops answering
 * its health check. Each time the HA guests answer again by their HTTP service - elsewhere, or in place for VM
 * monitoring - in priority and dependency order, never on two hosts at once; and the settings refuse bad input.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HaIT extends ClusterLabTest {
    private static final Duration RECOVERY = Duration.ofSeconds(120);

    @Override
    int guestPortFrom() {
        return 24800;
    }

    @Test
    @Order(1)
    void settingsRefuseBadInputAndAdmissionControlKeepsRoomForFailover() throws Exception {
        bridgedVm("adm-1", 512, "lab-h1");
        lab.awaitState("adm-1", "running", BOOT);
        Http api = lab.api();
        JsonNode before = api.get("/api/v1/vms/adm-1/ha").json();
        assertThat(before.path("enabled").asBoolean()).isFalse();
        bad(api.patch("/api/v1/vms/adm-1/ha", "{\"priority\":101}"), "priority", "0..100");
        bad(api.patch("/api/v1/vms/adm-1/ha", "{\"dependsOn\":[\"no-such-vm\"]}"), "dependsOn", "no VM 'no-such-vm'");
        bad(api.patch("/api/v1/vms/adm-1/ha", "{\"dependsOn\":[\"adm-1\"]}"), "dependsOn", "itself");
        bad(api.patch("/api/v1/vms/adm-1/ha", "{\"healthCheck\":\"ftp:21\"}"), "healthCheck", "tcp:PORT or http:PORT");
        bad(api.patch("/api/v1/vms/adm-1/ha", "{\"healthFailures\":0}"), "healthFailures", "1..100");
        bad(api.patch("/api/v1/vms/adm-1/ha", "{\"enabled\":true,\"turbo\":true}"), "turbo", "");
        assertThat(api.get("/api/v1/vms/adm-1/ha").json()).isEqualTo(before);
        bad(api.patch("/api/v1/clusters/default/ha", "{\"isolationResponse\":\"reboot\"}"), "isolationResponse",
                "power-off or leave-running");
        bad(api.patch("/api/v1/hosts/lab-h1/fence", "{\"kind\":\"ipmi\",\"username\":\"root\",\"password\":\"x\"}"),
                "address", "required");
        bad(api.patch("/api/v1/hosts/lab-h1/fence", "{\"kind\":\"redfish\",\"address\":\"http://10.0.0.9\","
                + "\"username\":\"u\",\"password\":\"p\"}"), "address", "https");
        bad(api.patch("/api/v1/hosts/lab-h1/fence", "{\"kind\":\"carrier-pigeon\"}"), "kind", "ipmi, redfish, lab");
        assertThat(api.get("/api/v1/hosts/lab-h1/fence").json().path("kind").asText()).isEqualTo("none");

        // the BMC password is kept for fencing but never shown or audited
        api.patch("/api/v1/hosts/lab-h1/fence", "{\"kind\":\"ipmi\",\"address\":\"10.0.9.21\",\"username\":\"fence\","
                + "\"password\":\"Bmc-Secret-77\"}").expect(200);
        JsonNode fence = api.get("/api/v1/hosts/lab-h1/fence").json();
        assertThat(fence.path("secretSet").asBoolean()).isTrue();
        assertThat(fence.toString()).doesNotContain("Bmc-Secret-77");
        assertThat(api.get("/api/v1/audit?action=host.fence-settings").json().toString())
                .contains("10.0.9.21").doesNotContain("Bmc-Secret-77");
        api.patch("/api/v1/hosts/lab-h1/fence", "{\"kind\":\"none\"}").expect(200);

        // a dependency cycle is refused naming it
        bridgedVm("adm-3", 128, "lab-h2");
        api.patch("/api/v1/vms/adm-3/ha", "{\"dependsOn\":[\"adm-1\"]}").expect(200);
        bad(api.patch("/api/v1/vms/adm-1/ha", "{\"dependsOn\":[\"adm-3\"]}"), "dependsOn", "adm-1 -> adm-3 -> adm-1");

        // admission control: adm-1 (HA, 512 MiB) on lab-h1 must fit on lab-h2 + lab-h3 if lab-h1 fails
        api.patch("/api/v1/vms/adm-1/ha", "{\"enabled\":true,\"priority\":80}").expect(200);
        long m1 = hostMemory("lab-h1");
        long m2 = hostMemory("lab-h2");
        long m3 = hostMemory("lab-h3");
        long used2 = 128; // adm-3 runs on lab-h2
        try {
            api.patch("/api/v1/hosts/lab-h1", "{\"reservedMemoryMiB\":" + (m1 - 600) + "}").expect(200);
            api.patch("/api/v1/hosts/lab-h2", "{\"reservedMemoryMiB\":" + (m2 - 400 - used2) + "}").expect(200);
            api.patch("/api/v1/hosts/lab-h3", "{\"reservedMemoryMiB\":" + (m3 - 400) + "}").expect(200);
            lab.createVm("{\"name\":\"adm-2\",\"cpus\":1,\"memoryMiB\":384,\"image\":\"carevisor-appliance\","
                    + "\"nics\":[{\"network\":\"lab\"}],\"host\":\"lab-h2\"}");
            Http.Response refused = api.post("/api/v1/vms/adm-2/start", null);
            assertThat(refused.status()).as(refused.text()).isEqualTo(409);
            assertThat(refused.json().path("code").asText()).isEqualTo("placement-refused");
            assertThat(refused.json().path("detail").asText()).contains("HA admission control")
                    .contains("HA VMs of host lab-h1 (512 MiB)");
            assertThat(lab.vm("adm-2").path("state").asText()).isEqualTo("stopped");
            // without admission control the same start is allowed
            api.patch("/api/v1/clusters/default/ha", "{\"admissionControl\":false}").expect(200);
            JsonNode started = lab.run("/api/v1/vms/adm-2/start", null);
            assertThat(started.path("state").asText()).as(started.toString()).isEqualTo("succeeded");
            assertThat(api.get("/api/v1/audit?action=cluster.ha-settings").json().toString())
                    .contains("\"admissionControl\":false");
        } finally {
            api.patch("/api/v1/clusters/default/ha", "{\"admissionControl\":true}").expect(200);
            for (String h : List.of("lab-h1", "lab-h2", "lab-h3")) {
                api.patch("/api/v1/hosts/" + h, "{\"reservedMemoryMiB\":0}").expect(200);
            }
        }
        for (String vm : List.of("adm-1", "adm-2", "adm-3")) {
            api.patch("/api/v1/vms/" + vm + "/ha", "{\"enabled\":false,\"dependsOn\":[]}").expect(200);
            lab.act(vm, "poweroff");
        }
    }

    @Test
    @Order(2)
    void powerLossRestartsHaGuestsElsewhereInPriorityAndDependencyOrder() throws Exception {
        for (int i = 0; i < 3; i++) {
            lab.api().patch("/api/v1/hosts/lab-h" + (i + 1) + "/fence", "{\"kind\":\"lab\",\"target\":\""
                    + lab.network().namespace(i + 1) + "\"}").expect(200);
        }
        bridgedVm("ehr-db", 256, "lab-h1");
        bridgedVm("ehr-app", 256, "lab-h1");
        bridgedVm("lis", 256, "lab-h1");
        bridgedVm("scratch", 128, "lab-h1");
        ha("ehr-db", "{\"enabled\":true,\"priority\":100}");
        ha("ehr-app", "{\"enabled\":true,\"priority\":90,\"dependsOn\":[\"ehr-db\"]}");
        ha("lis", "{\"enabled\":true,\"priority\":50}");
        Map<String, String> boots = new java.util.LinkedHashMap<>();
        for (String vm : List.of("ehr-db", "ehr-app", "lis", "scratch")) {
            boots.put(vm, lab.guest(vm).awaitReady(BOOT).bootId());
        }
        awaitWatchdogArmed(0, "ehr-db", "ehr-app", "lis");
        long seqBefore = lastAuditSeq();

        // power loss: every process of lab-h1 (agent, watchdog, QEMUs) dies at once
        LabFenceAgent.Result off = new LabFenceAgent(lab.network().namespace(1)).powerOff(Duration.ofSeconds(10));
        assertThat(off.off()).as(off.detail()).isTrue();

        for (String vm : List.of("ehr-db", "ehr-app", "lis")) {
            GuestProbe.Status s = awaitNewBoot(vm, boots.get(vm));
            assertThat(s.bootId()).isNotEqualTo(boots.get(vm));
            assertThat(lab.vm(vm).path("host").asText()).isIn("lab-h2", "lab-h3");
        }
        // not protected: stays down
        assertThat(lab.vm("scratch").path("host").asText()).isEqualTo("lab-h1");

        List<JsonNode> trail = auditSince(seqBefore);
        List<String> actions = trail.stream().map(r -> r.path("action").asText() + " "
                + r.path("targetName").asText()).toList();
        assertThat(actions).contains("ha.suspect lab-h1", "ha.fence lab-h1", "host.fence lab-h1", "ha.dead lab-h1");
        List<String> restarts = actions.stream().filter(a -> a.startsWith("ha.restart ")).toList();
        assertThat(restarts).containsExactly("ha.restart ehr-db", "ha.restart lis", "ha.restart ehr-app");
        assertThat(actions.indexOf("ha.wait ehr-app")).isLessThan(actions.indexOf("ha.restart ehr-app")); // after ehr-db runs
        assertThat(actions.indexOf("ha.dead lab-h1")).isLessThan(actions.indexOf("ha.restart ehr-db"));
        JsonNode fence = trail.stream().filter(r -> r.path("action").asText().equals("host.fence")).findFirst()
                .orElseThrow();
        assertThat(fence.path("outcome").asText()).isEqualToIgnoringCase("success");
        assertThat(fence.path("actor").asText()).isEqualTo("system:ha");

        // the host comes back; it gets no VM back and nothing runs twice
        lab.startAgent(0);
        lab.awaitHostConnected();
        Poll.until(Duration.ofSeconds(30), "lab-h1 to be up again for HA", () -> hostHealth("lab-h1").equals("up")
                ? true : null);
        for (String vm : List.of("ehr-db", "ehr-app", "lis")) {
            assertThat(QemuProcesses.qemus(lab.vm(vm).path("id").asText())).hasSize(1);
            lab.api().patch("/api/v1/vms/" + vm + "/ha", "{\"enabled\":false,\"dependsOn\":[]}").expect(200);
            lab.act(vm, "poweroff");
        }
        // the unprotected VM died with its host: not restarted elsewhere, but on its host once that is back
        // (cause host-lost), like the VMs of a host that was shut down in order
        JsonNode scratch = lab.awaitState("scratch", "running", Duration.ofSeconds(60));
        assertThat(scratch.path("host").asText()).isEqualTo("lab-h1");
        assertThat(QemuProcesses.qemus(scratch.path("id").asText())).hasSize(1);
        assertThat(history("scratch")).contains("vm.reconcile.start");
        lab.act("scratch", "poweroff");
    }

    @Test
    @Order(3)
    void frozenAgentSelfFencesAndItsGuestRunsElsewhereOnlyOnce() throws Exception {
        lab.api().patch("/api/v1/hosts/lab-h2/fence", "{\"kind\":\"none\"}").expect(200);
        bridgedVm("pacs", 256, "lab-h2");
        ha("pacs", "{\"enabled\":true,\"priority\":70}");
        String boot = lab.guest("pacs").awaitReady(BOOT).bootId();
        String id = lab.vm("pacs").path("id").asText();
        awaitWatchdogArmed(1, "pacs");
        long agentPid = lab.host(1).process().pid();
        signal("STOP", agentPid);
        try {
            GuestProbe.Status s = awaitNewBoot("pacs", boot);
            assertThat(lab.vm("pacs").path("host").asText()).isIn("lab-h1", "lab-h3");
            assertThat(QemuProcesses.qemus(id)).hasSize(1);
            String history = lab.api().get("/api/v1/vms/pacs/history").json().toString();
            assertThat(history).contains("ha.restart");
            assertThat(Files.readString(lab.host(1).stateDir().resolve("ha/self-fenced"))).contains(id);
            assertThat(s.bootId()).isNotEqualTo(boot);
        } finally {
            signal("CONT", agentPid);
        }
        // the resumed agent reports; its old guest is gone and stays gone
        Poll.until(Duration.ofSeconds(30), "lab-h2 to report again", () -> hostHealth("lab-h2").equals("up")
                ? true : null);
        Thread.sleep(3000);
        assertThat(QemuProcesses.qemus(id)).hasSize(1);
        assertThat(lab.vm("pacs").path("host").asText()).isNotEqualTo("lab-h2");
        lab.api().patch("/api/v1/vms/pacs/ha", "{\"enabled\":false}").expect(200);
        lab.act("pacs", "poweroff");
    }

    @Test
    @Order(4)
    void isolatedHostReleasesItsGuestsAndTheyRunElsewhere() throws Exception {
        lab.api().patch("/api/v1/hosts/lab-h3/fence", "{\"kind\":\"none\"}").expect(200);
        bridgedVm("lab-sys", 256, "lab-h3");
        ha("lab-sys", "{\"enabled\":true,\"priority\":60}");
        String boot = lab.guest("lab-sys").awaitReady(BOOT).bootId();
        String id = lab.vm("lab-sys").path("id").asText();
        awaitWatchdogArmed(2, "lab-sys");
        lab.network().link(3, false); // lab-h3 (lab network numbers hosts from 1)
        try {
            awaitNewBoot("lab-sys", boot);
            assertThat(lab.vm("lab-sys").path("host").asText()).isIn("lab-h1", "lab-h2");
            String trail = lab.api().get("/api/v1/audit?target=lab-h3").json().toString();
            assertThat(trail).contains("ha.isolated");
            assertThat(lab.api().get("/api/v1/vms/lab-sys/history").json().toString()).contains("ha.released");
            assertThat(QemuProcesses.qemus(id)).hasSize(1);
            // the release came in lab-h3's signed lease, read by its peers: the real agents' leases are never refused
            assertThat(lab.api().get("/api/v1/audit?action=ha.lease-refused").json().size()).isZero();
        } finally {
            lab.network().link(3, true);
        }
        Poll.until(Duration.ofSeconds(30), "lab-h3 to report again", () -> hostHealth("lab-h3").equals("up")
                ? true : null);
        Thread.sleep(3000);
        assertThat(QemuProcesses.qemus(id)).hasSize(1);
        lab.api().patch("/api/v1/vms/lab-sys/ha", "{\"enabled\":false}").expect(200);
        lab.act("lab-sys", "poweroff");
    }

    @Test
    @Order(5)
    void vmMonitoringRestartsACrashedGuestAndResetsOneThatStopsAnswering() throws Exception {
        bridgedVm("mon", 256, "lab-h2");
        ha("mon", "{\"enabled\":true,\"healthCheck\":\"http:80/cgi-bin/status\",\"healthIntervalSeconds\":1,"
                + "\"healthFailures\":2,\"maxRestartsPerHour\":2}");
        String boot = lab.guest("mon").awaitReady(BOOT).bootId();
        String id = lab.vm("mon").path("id").asText();

        // QEMU dies: restarted, on its own host
        signal("KILL", lab.qemuPid(id));
        boot = awaitNewBoot("mon", boot).bootId();
        assertThat(lab.vm("mon").path("host").asText()).isEqualTo("lab-h2");
        assertThat(history("mon")).contains("ha.lost").contains("vm.ha-restart");

        // the guest stops answering (its network link goes down): it is reset in place
        Thread.sleep(6000); // the health check has seen the guest answer (failures count only after that)
        String tap = QemuCommandLine.tapName(id, lab.vm("mon").path("nics").get(0).path("id").asText());
        String ns = lab.network().namespace(2); // lab-h2
        ip(ns, "link", "set", tap, "down");
        try {
            Poll.until(Duration.ofSeconds(60), "the failed health check to reset the guest",
                    () -> history("mon").contains("vm.ha-reset") ? true : null);
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; HA view: " + lab.api().get("/api/v1/ha").text()
                    + "; history: " + history("mon"), e);
        } finally {
            ip(ns, "link", "set", tap, "up");
        }
        boot = awaitNewBoot("mon", boot).bootId();
        assertThat(history("mon")).contains("health check http://");

        // two restarts in this hour: the third death is left for an operator
        signal("KILL", lab.qemuPid(id));
        Poll.until(Duration.ofSeconds(30), "the restart limit to be reported",
                () -> history("mon").contains("ha.limit") ? true : null);
        Thread.sleep(3000);
        assertThat(QemuProcesses.qemus(id)).isEmpty();
        assertThat(lab.vm("mon").path("state").asText()).isEqualTo("crashed");
        lab.api().patch("/api/v1/vms/mon/ha", "{\"enabled\":false}").expect(200);
    }

    @Test
    @Order(6)
    void hostInMaintenanceIsNotFencedWhenSwitchedOffAndIsWatchedAgainWhenItLeaves() throws Exception {
        lab.api().patch("/api/v1/hosts/lab-h1/fence", "{\"kind\":\"lab\",\"target\":\""
                + lab.network().namespace(1) + "\"}").expect(200);
        bridgedVm("ris", 256, "lab-h1");
        ha("ris", "{\"enabled\":true,\"priority\":40}");
        String boot = lab.guest("ris").awaitReady(BOOT).bootId();
        long seqBefore = lastAuditSeq();

        // maintenance empties lab-h1; with no HA VM left, HA stops watching it
        JsonNode task = lab.run("/api/v1/hosts/lab-h1/maintenance", "{\"reason\":\"CHG-77 BIOS update\"}");
        assertThat(task.path("state").asText()).as(task.toString()).isEqualTo("succeeded");
        assertThat(lab.vm("ris").path("host").asText()).isIn("lab-h2", "lab-h3");
        Poll.until(Duration.ofSeconds(10), "lab-h1 to be in maintenance for HA",
                () -> hostHealth("lab-h1").equals("maintenance") ? true : null);

        // switched off for the update: past the heartbeat timeout and the lease expiry it is still not fenced
        LabFenceAgent.Result off = new LabFenceAgent(lab.network().namespace(1)).powerOff(Duration.ofSeconds(10));
        assertThat(off.off()).as(off.detail()).isTrue();
        for (int i = 0; i < 20; i++) {
            Thread.sleep(1000);
            assertThat(hostHealth("lab-h1")).as("HA health of lab-h1 %d s after it was switched off", i + 1)
                    .isEqualTo("maintenance");
        }
        List<String> actions = auditSince(seqBefore).stream().map(r -> r.path("action").asText() + " "
                + r.path("targetName").asText()).toList();
        assertThat(actions).contains("ha.maintenance lab-h1")
                .doesNotContain("ha.suspect lab-h1", "ha.fence lab-h1", "host.fence lab-h1", "ha.dead lab-h1");
        assertThat(lab.guest("ris").status().bootId()).as("the migrated guest ran on").isEqualTo(boot);

        // back from the update and out of maintenance: watched again
        lab.startAgent(0);
        lab.awaitHostConnected();
        lab.api().delete("/api/v1/hosts/lab-h1/maintenance").expect(200);
        Poll.until(Duration.ofSeconds(10), "lab-h1 to be watched again",
                () -> hostHealth("lab-h1").equals("up") ? true : null);
        // the view shows it up as soon as it left maintenance; the HA pass that watches it again records it
        Poll.until(Duration.ofSeconds(10), "ha.watched lab-h1 in the audit trail", () -> lab.api()
                .get("/api/v1/audit?target=lab-h1").json().toString().contains("ha.watched") ? true : null);
        lab.api().patch("/api/v1/vms/ris/ha", "{\"enabled\":false}").expect(200);
        lab.act("ris", "poweroff");
    }

    @Test
    @Order(7)
    void wholeLabRestartedSlowlyFencesNothingAndTheGuestRunsOn() throws Exception {
        for (int i = 1; i <= 3; i++) {
            lab.api().patch("/api/v1/hosts/lab-h" + i + "/fence", "{\"kind\":\"lab\",\"target\":\""
                    + lab.network().namespace(i) + "\"}").expect(200);
        }
        bridgedVm("cis", 256, "lab-h2");
        ha("cis", "{\"enabled\":true,\"priority\":60}");
        String boot = lab.guest("cis").awaitReady(BOOT).bootId();
        awaitWatchdogArmed(1, "cis");
        long seqBefore = lastAuditSeq();

        // as ./carevisor down --keep-vms: the manager first, then the agents (their watchdogs keep the leases)
        lab.manager().close();
        for (int i = 0; i < 3; i++) {
            lab.host(i).process().close();
        }
        // the manager comes back first; the hosts 12, 17 and 22 s later, longer than the heartbeat timeout (5 s)
        // and, for lab-h3, than the lease timeout (12 s)
        lab.startManager();
        for (int i = 0; i < 3; i++) {
            Thread.sleep(i == 0 ? 12_000 : 5_000);
            lab.startAgent(i);
        }
        lab.awaitHostConnected();
        Thread.sleep(15_000); // past every timeout once more, with all hosts reporting

        List<String> actions = auditSince(seqBefore).stream().map(r -> r.path("action").asText() + " "
                + r.path("targetName").asText()).toList();
        assertThat(actions).as("audit trail after the restart").contains("ha.booting lab-h1", "ha.booting lab-h3");
        assertThat(actions.stream().filter(a -> a.startsWith("ha.fence") || a.startsWith("host.fence")
                || a.startsWith("ha.dead") || a.startsWith("ha.suspect") || a.startsWith("ha.restart")
                || a.startsWith("ha.lost")).toList()).as("HA decisions after the restart").isEmpty();
        for (int i = 1; i <= 3; i++) {
            assertThat(hostHealth("lab-h" + i)).isEqualTo("up");
        }
        assertThat(lab.vm("cis").path("host").asText()).isEqualTo("lab-h2");
        assertThat(lab.guest("cis").status().bootId()).as("the guest ran on through the restart").isEqualTo(boot);
        lab.api().patch("/api/v1/vms/cis/ha", "{\"enabled\":false}").expect(200);
        lab.act("cis", "poweroff");
    }

    @Test
    @Order(8)
    void guestWhoseKernelPanicsIsRestartedWithoutAHealthCheck() throws Exception {
        bridgedVm("pan", 256, "lab-h3");
        ha("pan", "{\"enabled\":true}");
        String boot = lab.guest("pan").awaitReady(BOOT).bootId();
        String id = lab.vm("pan").path("id").asText();
        long qemu = lab.qemuPid(id);

        // QEMU itself runs on; only the guest inside is dead. Its pvpanic device tells QEMU, which ends, and the
        // agent reports a crash that HA answers like any other
        lab.guest("pan").panicFromInside();
        GuestProbe.Status s = awaitNewBoot("pan", boot);
        assertThat(s.bootId()).isNotEqualTo(boot);
        assertThat(lab.qemuPid(id)).as("a new QEMU").isNotEqualTo(qemu);
        assertThat(QemuProcesses.qemus(id)).hasSize(1);
        assertThat(history("pan")).contains("vm.ha-restart").contains("kernel panicked");
        lab.api().patch("/api/v1/vms/pan/ha", "{\"enabled\":false}").expect(200);
        lab.act("pan", "poweroff");
    }

    // ---- helpers

    private void ha(String vm, String body) {
        lab.api().patch("/api/v1/vms/" + vm + "/ha", body).expect(200);
    }

    private static void bad(Http.Response r, String field, String text) {
        assertThat(r.status()).as(r.text()).isEqualTo(400);
        assertThat(r.text()).contains(field).contains(text);
    }

    private long hostMemory(String host) {
        for (JsonNode h : lab.api().get("/api/v1/hosts").json()) {
            if (h.path("name").asText().equals(host)) {
                return h.path("memoryMiB").asLong();
            }
        }
        throw new AssertionError("no host " + host);
    }

    private String hostHealth(String host) {
        for (JsonNode h : lab.api().get("/api/v1/ha").json().path("hosts")) {
            if (h.path("name").asText().equals(host)) {
                return h.path("health").asText();
            }
        }
        return "unknown";
    }

    private String history(String vm) {
        return lab.api().get("/api/v1/vms/" + vm + "/history").json().toString();
    }

    private long lastAuditSeq() {
        JsonNode last = lab.api().get("/api/v1/audit?limit=1").json();
        return last.size() == 0 ? 0 : last.get(0).path("seq").asLong();
    }

    /** Audit records after {@code seq}, oldest first. */
    private List<JsonNode> auditSince(long seq) {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode r : lab.api().get("/api/v1/audit?limit=1000").json()) {
            if (r.path("seq").asLong() > seq) {
                out.add(0, r);
            }
        }
        return out;
    }

    /** Waits until the host's watchdog knows the VMs as HA VMs with their QEMU pids. */
    private void awaitWatchdogArmed(int host, String... vms) {
        Path pids = lab.host(host).stateDir().resolve("ha/pids");
        Poll.until(Duration.ofSeconds(30), "the watchdog of " + lab.host(host).name() + " to guard " + List.of(vms), () -> {
            String text;
            try {
                text = Files.exists(pids) ? Files.readString(pids) : "";
            } catch (java.io.IOException e) {
                return null;
            }
            for (String vm : vms) {
                if (!text.contains(lab.vm(vm).path("id").asText())) {
                    return null;
                }
            }
            return true;
        });
    }

    private GuestProbe.Status awaitNewBoot(String vm, String oldBoot) {
        return Poll.until(RECOVERY, vm + " to answer after a new boot", () -> {
            try {
                GuestProbe.Status st = lab.guest(vm).status();
                return st.bootId().equals(oldBoot) ? null : st;
            } catch (Exception e) {
                return null;
            }
        });
    }

    private static void signal(String sig, long pid) throws Exception {
        Process p = new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).inheritIO().start();
        assertThat(p.waitFor()).isZero();
    }

    private static void ip(String ns, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns, "ip"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        assertThat(p.waitFor()).isZero();
    }
}
