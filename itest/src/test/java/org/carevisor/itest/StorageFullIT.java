package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.Test;

/**
 * The shared storage of a three-host lab runs full (a real size-limited ext4, filled to its last block): the hosts
 * go on renewing their storage leases, so no host kills its HA VMs or is fenced and no VM restarts; a guest whose
 * write needs new space is paused by QEMU (the write waits, the guest sees no error) and shown paused with the
 * reason; once space is free again the agent resumes it by itself and the waiting write completes. The scripted
 * case of the fault campaign's {@code storage-full} fault.
 */
class StorageFullIT extends ClusterLabTest {
    @Override
    int guestPortFrom() {
        return 26400;
    }

    @Override
    int storageMiB() {
        return 1024;
    }

    @Test
    void aFullStorageFencesNothingAndPausesOnlyWhatMustWaitForSpace() throws Exception {
        for (int i = 0; i < 3; i++) {
            lab.api().patch("/api/v1/hosts/" + lab.host(i).name() + "/fence", "{\"kind\":\"lab\",\"target\":\""
                    + lab.network().namespace(i + 1) + "\"}").expect(200);
        }
        bridgedVm("ha-1", 128, lab.host(0).name());
        bridgedVm("vm-1", 128, lab.host(1).name());
        lab.api().patch("/api/v1/vms/ha-1/ha", "{\"enabled\":true}").expect(200);
        GuestProbe ha = lab.guest("ha-1");
        GuestProbe plain = lab.guest("vm-1");
        String haBoot = ha.awaitReady(BOOT).bootId();
        String plainBoot = plain.awaitReady(BOOT).bootId();
        ha.setDiskCounter(100);
        plain.setDiskCounter(200);
        // a disk snapshot shares every cluster: vm-1's next write must copy one, which needs new space
        JsonNode snap = lab.run("/api/v1/vms/vm-1/snapshots", "{\"name\":\"before\"}");
        assertThat(snap.path("state").asText()).as(snap.toString()).isEqualTo("succeeded");

        long filled = storage.fill();
        assertThat(storage.usable()).as("filled %d bytes", filled).isZero();
        // the write waits in the guest; the probe gives up after its 5 s: not acknowledged
        CompletableFuture<Boolean> write = CompletableFuture.supplyAsync(() -> {
            try {
                plain.incrementDiskCounter();
                return true;
            } catch (java.io.IOException e) {
                return false;
            }
        });
        JsonNode paused = lab.awaitState("vm-1", "paused", Duration.ofSeconds(60));
        assertThat(paused.toString()).contains("no space left on the storage");

        // well past the self-fence time (7 s) and the lease expiry (12 s): leases are renewed in place
        Thread.sleep(20_000);
        assertThat(ha.setDiskCounter(101)).as("the HA guest writes to space it holds").isEqualTo(101);
        assertThat(ha.status().bootId()).as("the HA VM was neither self-fenced nor restarted").isEqualTo(haBoot);
        for (JsonNode h : lab.api().get("/api/v1/hosts").json()) {
            assertThat(h.path("status").asText()).as(h.toString()).isEqualTo("connected");
        }
        assertThat(lab.vm("vm-1").path("state").asText()).as("still waiting for space").isEqualTo("paused");
        assertThat(write.get(10, TimeUnit.SECONDS)).as("a write that waits for space is not acknowledged").isFalse();
        assertThat(lab.vm("vm-1").path("stopCause").asText()).isEqualTo("no-space");
        JsonNode health = Poll.until(Duration.ofSeconds(20), "the no-space alarm", () -> {
            JsonNode h = lab.api().get("/api/v1/health").json();
            return h.path("alarms").toString().contains("vm-paused-no-space:vm-1") ? h : null;
        });
        assertThat(health.path("status").asText()).isEqualTo("degraded");
        assertThat(health.path("alarms").toString()).contains("free space on the storage")
                .doesNotContain("vm-paused-no-space:ha-1");

        storage.free();
        lab.awaitState("vm-1", "running", Duration.ofSeconds(30));
        GuestProbe.Status after = Poll.until(Duration.ofSeconds(30), "vm-1 to answer", () -> {
            try {
                return plain.status();
            } catch (java.io.IOException e) {
                return null;
            }
        });
        assertThat(after.bootId()).as("resumed, not restarted").isEqualTo(plainBoot);
        // the write that waited went on in the guest once resumed (or was given up with its client): never less
        assertThat(after.diskCounter()).isBetween(200L, 201L);
        assertThat(plain.incrementDiskCounter()).isEqualTo(after.diskCounter() + 1);
        Poll.until(Duration.ofSeconds(20), "the no-space alarm to clear", () -> lab.api().get("/api/v1/health")
                .json().path("alarms").toString().contains("vm-paused-no-space") ? null : true);
        String history = lab.api().get("/api/v1/vms/vm-1/history").text();
        assertThat(history).contains("vm.no-space-alarm").contains("cleared: VM vm-1");
        String audit = lab.api().get("/api/v1/audit?limit=200").text();
        assertThat(audit).doesNotContain("\"host.fence\"").doesNotContain("\"ha.restart\"")
                .doesNotContain("vm.ha-restart");
    }
}
