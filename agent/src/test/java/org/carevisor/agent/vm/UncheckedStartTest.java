package org.carevisor.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.carevisor.agent.Agent;
import org.carevisor.agent.AgentConfig;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmSpec;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.carevisor.qemu.QemuHostConfig;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent ends between QEMU's (paused) start and the check of the files QEMU opened - here: the launcher starts
 * QEMU and nothing releases it, as when the agent is killed at that moment. The next agent re-adopts the QEMU,
 * sees it never ran ({@code prelaunch}) and powers it off instead of letting an unchecked guest run.
 */
class UncheckedStartTest {
    @TempDir
    Path dir;

    @Test
    void aQemuWhoseStartWasNeverCheckedIsPoweredOffOnReadoption() throws Exception {
        Path state = dir.resolve("state");
        Path storage = dir.resolve("storage");
        String[] args = BlankVm.agentArgs(dir, storage);
        String vmId = UUID.randomUUID().toString();
        VmSpec spec = BlankVm.spec(vmId, "unchecked");
        Long pid = null;
        ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
        try {
            VmFiles files;
            try (Agent first = Agent.start(AgentConfig.parse(args, Map.of()))) {
                BlankVm.createDisk(storage, vmId);
                files = first.vms().forStart(vmId).files();
                VmHost host = new VmHost(new QemuHostConfig("qemu-system-x86_64", "tcg", storage, "127.0.0.1", true),
                        state.resolve("bin/qemu-wrapper.sh"), scheduler, () -> { }, DeliberateKills.NONE,
                        new MigrationTls(state.resolve("tls")));
                QemuLauncher launcher = new QemuLauncher(vmId, files, host);
                launcher.launch(spec, false, launcher.checkDisks(spec));
                Poll.until(Duration.ofSeconds(20), "QEMU's pid file", () -> files.readPid().isPresent()
                        && files.paths().qmpSocket().toFile().exists());
                pid = files.readPid().orElseThrow();
                first.closeAndStopWatchdog();
            }
            try (Agent again = Agent.start(AgentConfig.parse(args, Map.of()))) {
                VmSupervisor vm = again.vms().get(vmId);
                Poll.until(Duration.ofSeconds(30), "the unchecked QEMU to be powered off", () -> !vm.hasProcess());
                VmStatus status = vm.status();
                assertThat(status.state()).isEqualTo(VmState.STOPPED);
                assertThat(status.cause()).isEqualTo(StopCause.START_FAILED);
                assertThat(status.reason()).contains("before this start was checked");
                long gone = pid;
                assertThat(ProcessHandle.of(gone).map(ProcessHandle::isAlive).orElse(false)).isFalse();
                again.vms().undefine(vmId);
                again.closeAndStopWatchdog();
            }
        } finally {
            if (pid != null) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
            scheduler.shutdownNow();
            org.carevisor.agent.ha.Watchdog.stopAny(state, Duration.ofSeconds(5));
        }
    }
}
