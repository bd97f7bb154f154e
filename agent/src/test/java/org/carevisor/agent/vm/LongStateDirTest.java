package org.carevisor.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.carevisor.agent.Agent;
import org.carevisor.agent.AgentConfig;
import org.carevisor.protocol.DiskCreateRequest;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmSpec;
import org.carevisor.protocol.VmState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A state directory so deep that a VM's sockets would exceed the kernel's 107-byte limit: the sockets go to
 * a short runtime directory, the VM runs, and a new agent on the same state directory re-adopts it.
 */
class LongStateDirTest {
    @TempDir
    Path dir;

    @Test
    void socketsMoveToAShortDirectoryAndReadoptionStillWorks() throws Exception {
        Path state = dir.resolve("a-very-long-directory-name-for-the-agent-state-of-a-hospital-host-in-building-7");
        Path storage = dir.resolve("storage");
        String[] args = {"--state-dir", state.toString(), "--storage-dir", storage.toString(), "--port", "0",
            "--accel", "tcg"};
        new org.carevisor.agent.TestPki(dir.resolve("ca")).provisionAgent(state.resolve("tls"));
        String vmId = UUID.randomUUID().toString();
        Path vmDir = state.resolve("vms").resolve(vmId);
        assertThat(org.carevisor.qemu.VmRuntimePaths.socketsFit(vmDir)).as("the test needs a path that is too long").isFalse();
        VmSpec spec = new VmSpec(vmId, "deep", 1, 32, null, null,
                List.of(new DiskSpec("disk0", "vms/" + vmId + "/disk0.qcow2", "qcow2", false)), List.of(), 1);
        Long pid = null;
        try {
            try (Agent agent = Agent.start(AgentConfig.parse(args, Map.of()))) {
                new org.carevisor.agent.storage.StorageService(storage, null, new org.carevisor.qemu.QemuImg("qemu-img"))
                        .createDisk(DiskCreateRequest.blank("vms/" + vmId + "/disk0.qcow2", "qcow2", 16L << 20));
                VmSupervisor vm = agent.vms().forStart(vmId);
                assertThat(vm.start(spec).state()).isEqualTo(VmState.RUNNING);
                pid = vm.status().pid();
                Path sockets = vm.files().paths().socketDirectory();
                assertThat(sockets).isNotEqualTo(vmDir);
                assertThat(sockets.resolve("qmp.sock")).exists();
                assertThat(sockets.resolve("qmp.sock").toString().length()).isLessThanOrEqualTo(107);
            }
            try (Agent again = Agent.start(AgentConfig.parse(args, Map.of()))) {
                VmSupervisor vm = again.vms().get(vmId);
                assertThat(vm.status().state()).isEqualTo(VmState.RUNNING);
                assertThat(vm.status().pid()).isEqualTo(pid);
                vm.powerOff(StopCause.REQUESTED, "test done");
                org.carevisor.testkit.Poll.until(java.time.Duration.ofSeconds(20), "QEMU to stop",
                        () -> !vm.hasProcess());
                Path sockets = vm.files().paths().socketDirectory();
                again.vms().undefine(vmId);
                assertThat(sockets).doesNotExist();
                again.closeAndStopWatchdog();
            }
        } finally {
            if (pid != null) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
            org.carevisor.agent.ha.Watchdog.stopAny(state, java.time.Duration.ofSeconds(5));
        }
        assertThat(Files.exists(vmDir)).isFalse();
    }
}
