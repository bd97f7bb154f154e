package org.carevisor.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.carevisor.agent.Agent;
import org.carevisor.agent.AgentConfig;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmSpec;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.carevisor.testkit.LimitedStorage;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Found by the fault campaign (storage-unreachable): a start (or the destination of a live migration) that began
 * while the shared storage hung checked its disks with the VM's lock held, so every status report of the host
 * waited with it; the manager heard nothing for 5 s and fenced a healthy host. Here a real storage stops answering
 * (its FUSE layer is stopped) while a VM starts: the host's VM statuses and inventory are given at once, the
 * inventory says the storage does not answer, and the start goes on once the storage answers again.
 */
class HangingStorageTest {
    @TempDir
    Path dir;

    @Test
    void aStartWaitingForAHangingStorageDoesNotStopTheReports() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mounting a file system needs root");
        Path storage = dir.resolve("storage");
        String[] args = BlankVm.agentArgs(dir, storage);
        String vmId = UUID.randomUUID().toString();
        VmSpec spec = BlankVm.spec(vmId, "hanging");
        try (LimitedStorage disk = LimitedStorage.mountFreezable(storage, 1024);
             Agent agent = Agent.start(AgentConfig.parse(args, Map.of()))) {
            BlankVm.createDisk(storage, vmId);
            VmSupervisor vm = agent.vms().forStart(vmId);
            disk.freeze();
            Thread starter = Thread.ofPlatform().name("hanging-start").start(() -> vm.start(spec));
            boolean started = false;
            try {
                Poll.until(Duration.ofSeconds(10), "the start to wait in the disk check", () ->
                        Arrays.stream(starter.getStackTrace()).anyMatch(f -> f.getMethodName().equals("checkDisks"))
                                ? true : null);
                List<VmStatus> statuses = CompletableFuture.supplyAsync(() -> agent.vms().statuses())
                        .get(2, TimeUnit.SECONDS);
                assertThat(statuses).extracting(VmStatus::state).containsExactly(VmState.STOPPED);
                HostInventory inv = Poll.until(Duration.ofSeconds(10), "the inventory to say so", () -> {
                    HostInventory i = agent.inventory().collect();
                    return i.warnings().stream().anyMatch(w -> w.contains("has not answered")) ? i : null;
                });
                assertThat(inv.storageTotalBytes()).as("the last size read").isPositive();
            } finally {
                // also when an assertion failed: the start goes on once the storage answers, and its QEMU must end
                disk.thaw();
                starter.join(Duration.ofSeconds(30).toMillis());
                started = vm.hasProcess();
                if (started) {
                    vm.powerOff(StopCause.REQUESTED, "test done");
                }
            }
            assertThat(starter.isAlive()).isFalse();
            assertThat(started).as("started once the storage answered").isTrue();
            Poll.until(Duration.ofSeconds(20), "QEMU to stop", () -> vm.hasProcess() ? null : true);
            agent.closeAndStopWatchdog();
        }
    }
}
