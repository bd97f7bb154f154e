package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.Test;

/**
 * Snapshots of real guests: a memory snapshot brings back the exact moment (boot id, in-memory counter, disk
 * counter) and the guest keeps running; disk-only snapshots form a tree whose middle can be deleted without
 * harming the rest; reverts work for running and stopped VMs.
 */
class SnapshotIT extends ApplianceLabTest {
    @Override
    int guestPortFrom() {
        return 23600;
    }

    private GuestProbe.Status status(GuestProbe guest) {
        try {
            return guest.status();
        } catch (java.io.IOException e) {
            return null;
        }
    }

    @Test
    void memorySnapshotBringsBackTheMoment() throws Exception {
        lab.createVm("{\"name\":\"snap-1\",\"cpus\":1,\"memoryMiB\":256,\"image\":\"carevisor-appliance\",\"start\":true}");
        GuestProbe guest = lab.guest("snap-1");
        guest.awaitReady(BOOT);
        guest.setDiskCounter(10);

        JsonNode taken = lab.run("/api/v1/vms/snap-1/snapshots",
                "{\"name\":\"before change\",\"description\":\"known good\",\"memory\":true}");
        assertThat(taken.path("state").asText()).as(taken.toString()).isEqualTo("succeeded");
        assertThat(taken.path("message").asText()).contains("with memory; guest paused");
        GuestProbe.Status atSnapshot = guest.status();
        JsonNode snap = lab.api().get("/api/v1/vms/snap-1/snapshots/before%20change").json();
        assertThat(snap.path("withMemory").asBoolean()).isTrue();
        assertThat(snap.path("current").asBoolean()).isTrue();
        assertThat(snap.path("pausedMs").asLong()).isPositive();
        assertThat(snap.path("createdBy").asText()).isEqualTo("admin");

        // Change the guest: disk counter and time (the in-memory counter keeps counting).
        guest.setDiskCounter(11);
        GuestProbe.Status later = Poll.until(Duration.ofSeconds(20), "the in-memory counter to move on", () -> {
            GuestProbe.Status s = status(guest);
            return s != null && s.counter() > atSnapshot.counter() + 30 ? s : null;
        });

        // Revert: same boot, the old counters, and the guest keeps running.
        JsonNode reverted = lab.run("/api/v1/vms/snap-1/snapshots/before%20change/revert", null);
        assertThat(reverted.path("state").asText()).as(reverted.toString()).isEqualTo("succeeded");
        GuestProbe.Status back = guest.awaitReady(Duration.ofSeconds(20));
        assertThat(back.bootId()).isEqualTo(atSnapshot.bootId());
        assertThat(back.diskCounter()).isEqualTo(10);
        assertThat(back.counter()).isLessThan(later.counter()).isGreaterThanOrEqualTo(atSnapshot.counter() - 2);
        assertThat(lab.vm("snap-1").path("state").asText()).isEqualTo("running");

        // Reverting a memory snapshot of a stopped VM resumes the guest from the snapshot too.
        lab.act("snap-1", "poweroff");
        assertThat(lab.run("/api/v1/vms/snap-1/snapshots/before%20change/revert", null).path("state").asText())
                .isEqualTo("succeeded");
        GuestProbe.Status resumed = guest.awaitReady(Duration.ofSeconds(30));
        assertThat(resumed.bootId()).isEqualTo(atSnapshot.bootId());
        assertThat(resumed.diskCounter()).isEqualTo(10);
        assertThat(lab.vm("snap-1").path("powerState").asText()).isEqualTo("running");

        // Bad requests: a name that exists, memory of a stopped VM, a snapshot of another VM.
        Http.Response taken2 = lab.api().post("/api/v1/vms/snap-1/snapshots", "{\"name\":\"before change\"}");
        assertThat(taken2.status()).isEqualTo(409);
        assertThat(taken2.json().path("code").asText()).isEqualTo("snapshot-name-taken");
        assertThat(taken2.json().path("errors").findValuesAsText("field")).containsExactly("name");

        lab.createVm("{\"name\":\"other\",\"cpus\":1,\"memoryMiB\":128,\"image\":\"carevisor-appliance\"}");
        Http.Response stoppedMemory = lab.api().post("/api/v1/vms/other/snapshots", "{\"name\":\"m\",\"memory\":true}");
        assertThat(stoppedMemory.status()).isEqualTo(400);
        assertThat(stoppedMemory.json().path("errors").findValuesAsText("field")).containsExactly("memory");
        Http.Response foreign = lab.api().post("/api/v1/vms/other/snapshots/" + snap.path("id").asText() + "/revert",
                null);
        assertThat(foreign.status()).isEqualTo(409);
        assertThat(foreign.json().path("code").asText()).isEqualTo("snapshot-of-another-vm");
        assertThat(foreign.json().path("detail").asText()).contains("snap-1", "other");
        assertThat(lab.api().post("/api/v1/vms/snap-1/snapshots", "{\"name\":\"a/b\"}").status()).isEqualTo(400);
        assertThat(lab.api().post("/api/v1/vms/snap-1/snapshots/no-such/revert", null).status()).isEqualTo(404);
        assertThat(lab.api().get("/api/v1/vms/snap-1/history").json().findValuesAsText("action"))
                .contains("vm.snapshot.create", "vm.snapshot.revert");
    }

    @Test
    void diskSnapshotTreeSurvivesDeletingItsMiddle() throws Exception {
        lab.createVm("{\"name\":\"snap-2\",\"cpus\":1,\"memoryMiB\":128,\"image\":\"carevisor-appliance\",\"start\":true}");
        GuestProbe guest = lab.guest("snap-2");
        guest.awaitReady(BOOT);

        // A -> B -> C, disk-only, taken while the VM runs (crash-consistent).
        guest.setDiskCounter(1);
        snapshot("snap-2", "A");
        guest.setDiskCounter(2);
        snapshot("snap-2", "B");
        guest.setDiskCounter(3);
        snapshot("snap-2", "C");
        guest.setDiskCounter(4);
        JsonNode tree = lab.api().get("/api/v1/vms/snap-2/snapshots").json();
        String a = idOf(tree, "A");
        String b = idOf(tree, "B");
        assertThat(parentOf(tree, "B")).isEqualTo(a);
        assertThat(parentOf(tree, "C")).isEqualTo(b);

        // Delete the middle one while the VM runs: C now descends from A and keeps its data.
        assertThat(lab.api().delete("/api/v1/vms/snap-2/snapshots/B").status()).isEqualTo(202);
        Poll.until(Duration.ofSeconds(60), "B to be gone",
                () -> lab.api().get("/api/v1/vms/snap-2/snapshots/B").status() == 404);
        tree = lab.api().get("/api/v1/vms/snap-2/snapshots").json();
        assertThat(tree.findValuesAsText("name")).containsExactly("A", "C");
        assertThat(parentOf(tree, "C")).isEqualTo(a);

        // Disk-only revert of a running VM: it boots again from C's disk state.
        String bootBefore = guest.status().bootId();
        assertThat(lab.run("/api/v1/vms/snap-2/snapshots/C/revert", null).path("state").asText()).isEqualTo("succeeded");
        GuestProbe.Status atC = Poll.until(BOOT, "a fresh boot from C", () -> {
            GuestProbe.Status s = status(guest);
            return s != null && !s.bootId().equals(bootBefore) ? s : null;
        });
        assertThat(atC.diskCounter()).isEqualTo(3);
        assertThat(lab.api().get("/api/v1/vms/snap-2/snapshots/C").json().path("current").asBoolean()).isTrue();

        // And back to A, further up the tree.
        assertThat(lab.run("/api/v1/vms/snap-2/snapshots/A/revert", null).path("state").asText()).isEqualTo("succeeded");
        assertThat(Poll.until(BOOT, "a fresh boot from A", () -> {
            GuestProbe.Status s = status(guest);
            return s != null && !s.bootId().equals(atC.bootId()) ? s : null;
        }).diskCounter()).isEqualTo(1);

        // Stopped VM: snapshot and revert work on the files; the VM stays stopped until started.
        lab.act("snap-2", "shutdown");
        snapshot("snap-2", "D (stopped)");
        assertThat(lab.run("/api/v1/vms/snap-2/snapshots/C/revert", null).path("state").asText()).isEqualTo("succeeded");
        assertThat(lab.vm("snap-2").path("state").asText()).isEqualTo("stopped");
        lab.act("snap-2", "start");
        assertThat(guest.awaitReady(BOOT).diskCounter()).isEqualTo(3);
        JsonNode d = lab.api().get("/api/v1/vms/snap-2/snapshots/D%20(stopped)").json();
        assertThat(d.path("vmWasRunning").asBoolean()).isFalse();
        assertThat(d.path("parentId").asText()).isEqualTo(a);

        // The snapshot data lives inside the qcow2 file.
        JsonNode disk = GuestDisks.info(lab.dir().resolve("storage").resolve(lab.vm("snap-2").path("disks").get(0)
                .path("path").asText()));
        assertThat(disk.path("snapshots").findValuesAsText("name")).containsExactlyInAnyOrder(a, idOf(tree, "C"),
                d.path("id").asText());
    }

    private void snapshot(String vm, String name) {
        JsonNode t = lab.run("/api/v1/vms/" + vm + "/snapshots", "{\"name\":\"" + name + "\"}");
        assertThat(t.path("state").asText()).as(t.toString()).isEqualTo("succeeded");
    }

    private static String idOf(JsonNode tree, String name) {
        for (JsonNode s : tree) {
            if (s.path("name").asText().equals(name)) {
                return s.path("id").asText();
            }
        }
        throw new AssertionError("no snapshot " + name + " in " + tree);
    }

    private static String parentOf(JsonNode tree, String name) {
        for (JsonNode s : tree) {
            if (s.path("name").asText().equals(name)) {
                return s.path("parentId").asText(null);
            }
        }
        throw new AssertionError("no snapshot " + name + " in " + tree);
    }
}
