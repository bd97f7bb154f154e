package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Poll;
import org.carevisor.testkit.ProbeMonitor;
import org.carevisor.testkit.QemuProcesses;
import org.carevisor.testkit.chaos.ChaosLab;
import org.junit.jupiter.api.Test;

/**
 * Live migration of real guests between the hosts of a three-host lab: the guest keeps its boot and its
 * memory and answers throughout; a cancelled migration, a destination whose agent dies and a manager that
 * restarts in the middle all leave the guest running on its source, with the manager's records matching.
 */
class MigrationIT extends ClusterLabTest {
    @Override
    int guestPortFrom() {
        return 24400;
    }

    @Test
    void liveMigrationKeepsTheGuestRunningAndAnswering() throws Exception {
        bridgedVm("mig-1", 256, "lab-h1");
        GuestProbe guest = lab.guest("mig-1");
        GuestProbe.Status before = guest.awaitReady(BOOT);
        assertThat(lab.vm("mig-1").path("host").asText()).isEqualTo("lab-h1");
        assertThat(lab.vm("mig-1").path("nics").get(0).path("ip").asText()).startsWith("10.77.");

        ProbeMonitor.Result seen;
        JsonNode task;
        try (ProbeMonitor probe = ProbeMonitor.start(lab.vm("mig-1").path("nics").get(0).path("ip").asText(), 80)) {
            Thread.sleep(1000);
            task = lab.run("/api/v1/vms/mig-1/migrate", "{\"host\":\"lab-h2\",\"reason\":\"replace a fan of lab-h1\"}");
            Thread.sleep(1500);
            seen = probe.stop();
        }
        assertThat(task.path("state").asText()).as(task.toString()).isEqualTo("succeeded");
        assertThat(task.path("message").asText()).contains("moved live from lab-h1 to lab-h2");
        System.out.printf("live migration: %s; guest probe: %d answers, longest gap %d ms, %d failed%n",
                task.path("message").asText(), seen.answers(), seen.longestGapMillis(), seen.failedRequests());
        assertThat(seen.failedRequests()).as("failed requests: %s", seen.failures()).isZero();
        assertThat(seen.bootIds()).containsExactly(before.bootId());
        assertThat(seen.lastCounter()).isGreaterThan(seen.firstCounter());

        JsonNode vm = lab.vm("mig-1");
        assertThat(vm.path("host").asText()).isEqualTo("lab-h2");
        assertThat(vm.path("state").asText()).isEqualTo("running");
        assertThat(vm.path("lastMigratedAt").isNull()).isFalse();
        GuestProbe.Status after = guest.status();
        assertThat(after.bootId()).isEqualTo(before.bootId());
        assertThat(after.counter()).isGreaterThan(before.counter());
        assertThat(after.uuid()).isEqualTo(before.uuid());

        JsonNode record = lab.api().get("/api/v1/migrations?vm=mig-1").json().get(0);
        assertThat(record.path("phase").asText()).isEqualTo("completed");
        assertThat(record.path("downtimeMs").asLong()).isPositive();
        assertThat(record.path("totalMs").asLong()).isGreaterThanOrEqualTo(record.path("downtimeMs").asLong());
        assertThat(record.path("purpose").asText()).isEqualTo("operator");
        JsonNode audit = lab.api().get("/api/v1/vms/mig-1/history").json();
        assertThat(audit.toString()).contains("vm.migrate").contains("replace a fan of lab-h1");

        // The scheduler's choice: without a host the VM moves to some other host of the cluster.
        JsonNode again = lab.run("/api/v1/vms/mig-1/migrate", null);
        assertThat(again.path("state").asText()).as(again.toString()).isEqualTo("succeeded");
        assertThat(lab.vm("mig-1").path("host").asText()).isNotEqualTo("lab-h2");
        assertThat(guest.status().bootId()).isEqualTo(before.bootId());
        lab.act("mig-1", "poweroff");
    }

    @Test
    void cancelledMigrationAndDeadDestinationLeaveTheGuestOnTheSource() throws Exception {
        bridgedVm("mig-2", 256, "lab-h1");
        GuestProbe guest = lab.guest("mig-2");
        String bootId = guest.awaitReady(BOOT).bootId();

        // Cancel: the copy stops, the guest goes on on lab-h1.
        String task = startSlowMigration("mig-2", "lab-h3");
        assertThat(lab.api().post("/api/v1/tasks/" + task + "/cancel", null).status()).isEqualTo(202);
        JsonNode cancelled = lab.awaitTaskEnd(task);
        assertThat(cancelled.path("state").asText()).isEqualTo("failed");
        assertThat(cancelled.path("error").path("code").asText()).isEqualTo("migration-cancelled");
        assertOnSource("mig-2", "lab-h1", bootId);

        // The destination's agent dies during the copy: the manager notices and cancels.
        task = startSlowMigration("mig-2", "lab-h3");
        lab.host(2).process().kill();
        JsonNode failed = lab.awaitTaskEnd(task);
        assertThat(failed.path("state").asText()).isEqualTo("failed");
        assertThat(failed.path("error").path("code").asText()).isEqualTo("migration-failed");
        assertThat(failed.path("error").path("detail").asText()).contains("lab-h3");
        assertOnSource("mig-2", "lab-h1", bootId);
        JsonNode record = lab.api().get("/api/v1/migrations?vm=mig-2").json().get(0);
        assertThat(record.path("phase").asText()).isEqualTo("failed");

        // The agent comes back; its abandoned destination QEMU is gone and the host takes migrations again.
        lab.startAgent(2);
        lab.awaitHostConnected();
        JsonNode ok = lab.run("/api/v1/vms/mig-2/migrate", "{\"host\":\"lab-h3\"}");
        assertThat(ok.path("state").asText()).as(ok.toString()).isEqualTo("succeeded");
        assertThat(guest.status().bootId()).isEqualTo(bootId);
        lab.act("mig-2", "poweroff");
    }

    @Test
    void managerRestartDuringMigrationKeepsTheGuestOnTheSource() throws Exception {
        bridgedVm("mig-3", 256, "lab-h2");
        GuestProbe guest = lab.guest("mig-3");
        String bootId = guest.awaitReady(BOOT).bootId();
        startSlowMigration("mig-3", "lab-h1");
        lab.manager().kill();
        lab.startManager();
        lab.awaitHostConnected();
        JsonNode record = Poll.until(Duration.ofSeconds(60), "the interrupted migration to be resolved", () -> {
            JsonNode m = lab.api().get("/api/v1/migrations?vm=mig-3").json().get(0);
            return m.path("phase").asText().equals("failed") ? m : null;
        });
        assertThat(record.path("error").asText()).contains("manager stopped");
        assertOnSource("mig-3", "lab-h2", bootId);
        lab.act("mig-3", "poweroff");
    }

    /**
     * The whole site loses power while a live migration runs: once during the copy, once just after the hand-over.
     * The hosts come back destination first, then the source, the manager, the third host (as the fault campaign's
     * seed 201 had it). Each time the VM ends up running on exactly one host, the one the manager shows, with one
     * QEMU, and its guest answers (a new boot: every QEMU died with its host).
     */
    @Test
    void aSitePowerCycleDuringAMigrationLeavesTheGuestRunningOnOneHost() throws Exception {
        bridgedVm("mig-4", 256, "lab-h1");
        GuestProbe guest = lab.guest("mig-4");
        String firstBoot = guest.awaitReady(BOOT).bootId();
        String id = lab.vm("mig-4").path("id").asText();
        ChaosLab site = new ChaosLab(lab, java.util.List.of("mig-4"));

        startSlowMigration("mig-4", "lab-h3");
        powerCycle(site);
        String secondBoot = assertRunsOnceAndAnswers("mig-4", id, firstBoot);
        JsonNode copy = lab.api().get("/api/v1/migrations?vm=mig-4").json().get(0);
        assertThat(copy.path("phase").asText()).as(copy.toString()).isEqualTo("failed");

        // just after the hand-over: the manager may not have ended the source (nor closed the record) yet
        String from = lab.vm("mig-4").path("host").asText();
        String to = from.equals("lab-h3") ? "lab-h1" : "lab-h3";
        String task = lab.api().post("/api/v1/vms/mig-4/migrate", "{\"host\":\"" + to + "\"}").expect(202).json()
                .path("id").asText();
        Poll.until(Duration.ofSeconds(120), Duration.ofMillis(20), "the hand-over to " + to, () -> lab.vm("mig-4")
                .path("host").asText().equals(to) ? true : null);
        powerCycle(site);
        assertRunsOnceAndAnswers("mig-4", id, secondBoot);
        assertThat(lab.vm("mig-4").path("host").asText()).as("the guest had moved").isEqualTo(to);
        assertThat(lab.api().get("/api/v1/tasks/" + task).json().path("state").asText()).isNotEqualTo("running");
        lab.act("mig-4", "poweroff");
    }

    /**
     * A live migration asked for right after the VM's start waits until its QEMU has run the boot settle time (the
     * lab's 10 s), saying so in the task, then moves the guest, which keeps its boot (guests moved in their first
     * seconds of boot crashed on the destination under TCG).
     */
    @Test
    void aMigrationRightAfterTheStartWaitsUntilTheGuestHasBooted() throws Exception {
        java.time.Instant created = java.time.Instant.now();
        bridgedVm("mig-5", 128, "lab-h1");
        String task = lab.api().post("/api/v1/vms/mig-5/migrate", "{\"host\":\"lab-h2\"}").expect(202).json()
                .path("id").asText();
        JsonNode waiting = Poll.until(Duration.ofSeconds(10), Duration.ofMillis(100), "the task to wait", () -> {
            JsonNode t = lab.api().get("/api/v1/tasks/" + task).json();
            return t.path("phase").asText("").contains("a live migration begins once it has run 10 s") ? t : null;
        });
        assertThat(waiting.path("state").asText()).isEqualTo("running");
        String bootId = lab.guest("mig-5").awaitReady(BOOT).bootId();
        JsonNode done = lab.awaitTaskEnd(task);
        assertThat(done.path("state").asText()).as(done.toString()).isEqualTo("succeeded");
        assertThat(lab.vm("mig-5").path("host").asText()).isEqualTo("lab-h2");
        assertThat(lab.guest("mig-5").awaitReady(Duration.ofSeconds(30)).bootId()).isEqualTo(bootId);
        JsonNode record = lab.api().get("/api/v1/migrations?vm=mig-5").json().get(0);
        assertThat(java.time.Duration.between(created, java.time.Instant.parse(record.path("startedAt").asText()))
                .toSeconds()).as(record.toString()).isGreaterThanOrEqualTo(10);
        lab.act("mig-5", "poweroff");
    }

    /** Manager first, then every host; back destination (lab-h3), source (lab-h1), manager, lab-h2. */
    private void powerCycle(ChaosLab site) throws Exception {
        lab.manager().kill();
        for (int h = 0; h < 3; h++) {
            site.powerOff(h);
        }
        lab.startAgent(2);
        Thread.sleep(2000);
        lab.startAgent(0);
        Thread.sleep(2000);
        lab.startManager();
        lab.startAgent(1);
        lab.awaitHostConnected();
    }

    private String assertRunsOnceAndAnswers(String vm, String id, String bootBefore) throws Exception {
        JsonNode v = lab.awaitState(vm, "running", Duration.ofSeconds(120));
        GuestProbe.Status s = lab.guest(vm).awaitReady(BOOT);
        assertThat(s.bootId()).as("every QEMU died with the site's power: a new boot").isNotEqualTo(bootBefore);
        assertThat(lab.vm(vm).path("host").asText()).isEqualTo(v.path("host").asText());
        Poll.until(Duration.ofSeconds(30), "exactly one QEMU of the VM", () -> QemuProcesses.qemus(id).size() == 1
                ? true : null);
        return s.bootId();
    }

    /** Starts a migration limited to 2 MiB/s and returns its task once memory is being copied. */
    private String startSlowMigration(String vm, String host) {
        String task = lab.api().post("/api/v1/vms/" + vm + "/migrate", "{\"host\":\"" + host
                + "\",\"bandwidthMiBps\":2}").expect(202).json().path("id").asText();
        Poll.until(Duration.ofSeconds(30), "the migration to copy memory", () -> lab.api().get("/api/v1/tasks/" + task)
                .json().path("phase").asText("").startsWith("copying memory") ? true : null);
        return task;
    }

    private void assertOnSource(String vm, String host, String bootId) throws Exception {
        JsonNode v = lab.awaitState(vm, "running", Duration.ofSeconds(30));
        assertThat(v.path("host").asText()).isEqualTo(host);
        GuestProbe.Status s = lab.guest(vm).awaitReady(Duration.ofSeconds(20));
        assertThat(s.bootId()).isEqualTo(bootId);
        // no destination QEMU is left waiting anywhere: exactly one QEMU runs the VM
        Poll.until(Duration.ofSeconds(30), "abandoned destination QEMUs to end",
                () -> QemuProcesses.qemus(v.path("id").asText()).size() == 1 ? true : null);
    }
}
