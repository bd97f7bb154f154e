package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Poll;
import org.carevisor.testkit.QemuProcesses;
import org.junit.jupiter.api.Test;

/**
 * The life of a real appliance guest through the API: create and start, the guest's own view of its
 * identity, console marker, pause/resume, reboot, graceful ACPI shutdown with the disk counter kept,
 * resize while stopped, delete with its files.
 */
class VmLifecycleIT extends ApplianceLabTest {
    @Override
    int guestPortFrom() {
        return 21200;
    }




    @Test
    void applianceGuestLifecycle() throws Exception {
        JsonNode images = lab.api().get("/api/v1/images").json();
        assertThat(images.findValuesAsText("name")).contains("carevisor-appliance");

        JsonNode vm = lab.createVm("{\"name\":\"life-1\",\"cpus\":1,\"memoryMiB\":256,"
                + "\"image\":\"carevisor-appliance\",\"start\":true}");
        String id = vm.path("id").asText();
        assertThat(vm.path("state").asText()).isEqualTo("running");
        assertThat(vm.path("powerState").asText()).isEqualTo("running");
        assertThat(vm.path("host").asText()).isEqualTo("lab-host");
        assertThat(vm.path("guestPort").asInt()).isBetween(21200, 21399);
        String mac = vm.path("nics").get(0).path("mac").asText();

        // The guest's own view: SMBIOS UUID is the VM id, the MAC is the NIC's.
        GuestProbe guest = lab.guest("life-1");
        GuestProbe.Status first = guest.awaitReady(BOOT);
        assertThat(first.uuid()).isEqualTo(id);
        assertThat(first.mac()).isEqualTo(mac);
        assertThat(first.bootId()).isNotBlank();

        // Serial console carries the readiness marker with the same boot id.
        String console = lab.api().get("/api/v1/vms/life-1/console").json().path("text").asText();
        assertThat(console).contains("CAREVISOR-GUEST-READY boot_id=" + first.bootId() + " ");

        // The in-memory counter runs, stops while paused and continues after resume.
        Poll.until(Duration.ofSeconds(10), "counter to advance", () -> status(guest).counter() > first.counter());
        lab.act("life-1", "pause");
        assertThat(lab.vm("life-1").path("state").asText()).isEqualTo("paused");
        assertThat(lab.vm("life-1").path("powerState").asText()).isEqualTo("paused");
        lab.act("life-1", "resume");
        assertThat(lab.vm("life-1").path("state").asText()).isEqualTo("running");
        GuestProbe.Status afterResume = guest.awaitReady(Duration.ofSeconds(20));
        assertThat(afterResume.bootId()).isEqualTo(first.bootId());

        // The disk counter is written to the guest's disk.
        long disk = guest.incrementDiskCounter();
        assertThat(disk).isEqualTo(first.diskCounter() + 1);

        // Reboot: a new boot id, the boot count goes up, the disk counter stays.
        lab.act("life-1", "reboot");
        GuestProbe.Status rebooted = Poll.until(BOOT, "guest to come back with a new boot id", () -> {
            GuestProbe.Status s = status(guest);
            return s != null && !s.bootId().equals(first.bootId()) ? s : null;
        });
        assertThat(rebooted.bootCount()).isEqualTo(first.bootCount() + 1);
        assertThat(rebooted.diskCounter()).isEqualTo(disk);

        // Graceful shutdown: the guest powers off through ACPI well before the timeout.
        Http.Response shutdown = lab.api().post("/api/v1/vms/life-1/shutdown", "{\"timeoutSeconds\":60}");
        assertThat(shutdown.status()).isEqualTo(202);
        assertThat(shutdown.location()).startsWith("/api/v1/tasks/");
        JsonNode task = lab.awaitTask(shutdown.json().path("id").asText());
        assertThat(task.path("message").asText()).contains("the guest shut down");
        JsonNode stopped = lab.vm("life-1");
        assertThat(stopped.path("state").asText()).isEqualTo("stopped");
        assertThat(stopped.path("powerState").asText()).isEqualTo("stopped");
        assertThat(stopped.path("stopCause").asText()).isEqualTo("requested");
        assertThat(stopped.path("guestUrl").isMissingNode() || stopped.path("guestUrl").isNull()).isTrue();

        // Change vCPUs/memory while stopped; the guest boots with them and the disk counter survived.
        JsonNode patched = lab.api().patch("/api/v1/vms/life-1", "{\"memoryMiB\":192,\"description\":\"lab\"}").json();
        assertThat(patched.path("memoryMiB").asInt()).isEqualTo(192);
        assertThat(patched.path("specVersion").asLong()).isEqualTo(2);
        lab.act("life-1", "start");
        GuestProbe.Status again = guest.awaitReady(BOOT);
        assertThat(again.diskCounter()).isEqualTo(disk);
        assertThat(again.bootCount()).isEqualTo(rebooted.bootCount() + 1);

        // Power off, then delete: the VM and its disk files are gone, its history stays.
        lab.act("life-1", "poweroff");
        assertThat(lab.vm("life-1").path("state").asText()).isEqualTo("stopped");
        Path disks = lab.dir().resolve("storage/vms/" + id);
        assertThat(disks).isDirectory();
        Http.Response del = lab.api().delete("/api/v1/vms/life-1");
        assertThat(del.status()).isEqualTo(202);
        lab.awaitTask(del.json().path("id").asText());
        assertThat(lab.api().get("/api/v1/vms/life-1").status()).isEqualTo(404);
        assertThat(Files.exists(disks)).isFalse();
        JsonNode history = lab.api().get("/api/v1/audit?target=" + id + "&limit=100").json();
        assertThat(history.findValuesAsText("action")).contains("vm.create", "vm.start", "vm.pause", "vm.resume",
                "vm.reboot", "vm.shutdown", "vm.update", "vm.poweroff", "vm.delete");
    }

    @Test
    void guestThatPowersItselfOffStaysOff() throws Exception {
        lab.createVm("{\"name\":\"life-3\",\"cpus\":1,\"memoryMiB\":128,"
                + "\"image\":\"carevisor-appliance\",\"start\":true}");
        GuestProbe guest = lab.guest("life-3");
        guest.awaitReady(BOOT);
        guest.powerOffFromInside();
        JsonNode off = lab.awaitState("life-3", "stopped", Duration.ofSeconds(30));
        assertThat(off.path("stopCause").asText()).isEqualTo("guest");
        JsonNode vm = Poll.until(Duration.ofSeconds(10), "desired state to follow the guest", () -> {
            JsonNode v = lab.vm("life-3");
            return v.path("powerState").asText().equals("stopped") ? v : null;
        });
        assertThat(vm.path("stateReason").asText()).contains("guest powered off");
        Poll.sleep(3000);
        assertThat(lab.vm("life-3").path("state").asText()).as("not started again by the reconcile loop")
                .isEqualTo("stopped");
        assertThat(lab.api().get("/api/v1/vms/life-3/history").json().findValuesAsText("action"))
                .contains("vm.guest-shutdown");
        lab.awaitTask(lab.api().delete("/api/v1/vms/life-3").json().path("id").asText());
    }

    @Test
    void createsGrownBootDiskBlankDisksAndNoNic() throws Exception {
        JsonNode vm = lab.createVm("{\"name\":\"disks-1\",\"cpus\":1,\"memoryMiB\":128,"
                + "\"image\":\"carevisor-appliance\",\"diskSizeMiB\":512,"
                + "\"disks\":[{\"sizeMiB\":64},{\"sizeMiB\":32,\"format\":\"raw\"}],\"nics\":[],\"start\":true}");
        assertThat(vm.path("nics")).isEmpty();
        assertThat(vm.path("guestPort").isNull() || vm.path("guestPort").isMissingNode()).isTrue();
        Path storage = lab.dir().resolve("storage");
        assertThat(vm.path("disks").findValuesAsText("path")).hasSize(3);
        long[] expected = {512L << 20, 64L << 20, 32L << 20};
        String[] formats = {"qcow2", "qcow2", "raw"};
        for (int i = 0; i < 3; i++) {
            JsonNode d = vm.path("disks").get(i);
            assertThat(d.path("format").asText()).isEqualTo(formats[i]);
            Process info = new ProcessBuilder("qemu-img", "info", "-U", "--output=json",
                    storage.resolve(d.path("path").asText()).toString()).start();
            JsonNode img = org.carevisor.testkit.Http.json().readTree(info.getInputStream());
            assertThat(img.path("virtual-size").asLong()).isEqualTo(expected[i]);
            assertThat(img.path("format").asText()).isEqualTo(formats[i]);
        }
        JsonNode running = lab.awaitState("disks-1", "running", Duration.ofSeconds(10));
        String console = org.carevisor.testkit.Poll.until(BOOT, "boot from the grown disk", () -> {
            String text = lab.api().get("/api/v1/vms/disks-1/console").json().path("text").asText();
            return text.contains("CAREVISOR-GUEST-READY") ? text : null;
        });
        assertThat(console).contains("CAREVISOR-GUEST-READY");
        assertThat(running.path("pid").asLong()).isPositive();
        lab.awaitTask(lab.api().delete("/api/v1/vms/disks-1?force=true").json().path("id").asText());
        assertThat(storage.resolve("vms/" + vm.path("id").asText())).doesNotExist();
    }

    @Test
    void shutdownOfAPausedVmPowersItOffAtOnce() throws Exception {
        lab.createVm("{\"name\":\"life-4\",\"cpus\":1,\"memoryMiB\":128,"
                + "\"image\":\"carevisor-appliance\",\"start\":true}");
        lab.guest("life-4").awaitReady(BOOT);
        lab.act("life-4", "pause");
        JsonNode task = lab.act("life-4", "shutdown");
        assertThat(task.path("message").asText()).as("powered off at once: a paused guest cannot react to ACPI")
                .contains("paused", "powered off");
        assertThat(lab.vm("life-4").path("state").asText()).isEqualTo("stopped");
        lab.awaitTask(lab.api().delete("/api/v1/vms/life-4").json().path("id").asText());
    }

    @Test
    void forcedDeleteOfARunningVm() throws Exception {
        JsonNode vm = lab.createVm("{\"name\":\"life-2\",\"cpus\":1,\"memoryMiB\":128,"
                + "\"image\":\"carevisor-appliance\",\"start\":true}");
        Http.Response refused = lab.api().delete("/api/v1/vms/life-2");
        assertThat(refused.status()).isEqualTo(409);
        Http.Response del = lab.api().delete("/api/v1/vms/life-2?force=true");
        assertThat(del.status()).isEqualTo(202);
        lab.awaitTask(del.json().path("id").asText());
        assertThat(QemuProcesses.find(vm.path("id").asText())).isEmpty();
        assertThat(lab.dir().resolve("storage/vms/" + vm.path("id").asText())).doesNotExist();
    }

    private static GuestProbe.Status status(GuestProbe guest) {
        try {
            return guest.status();
        } catch (java.io.IOException e) {
            return null;
        }
    }
}
