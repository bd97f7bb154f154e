package org.carevisor.agent.ha;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.carevisor.agent.Agent;
import org.carevisor.agent.AgentConfig;
import org.carevisor.agent.TestPki;
import org.carevisor.agent.storage.FileTrees;
import org.carevisor.agent.storage.StorageService;
import org.carevisor.agent.vm.VmSupervisor;
import org.carevisor.protocol.DiskCreateRequest;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.protocol.HaTimings;
import org.carevisor.protocol.LeaseSeen;
import org.carevisor.protocol.ReportAck;
import org.carevisor.protocol.SignedLease;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmSpec;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.carevisor.qemu.QemuImg;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's HA half end to end, with a real agent, real QEMU (TCG, a blank disk) and the real watchdog:
 * self-fencing when the storage lease is lost, the keeper while the agent is stopped, and the isolation
 * response. Every test stops every watchdog and QEMU it started.
 */
class HaAgentTest {
    @TempDir
    Path dir;
    Path state;
    Path storage;
    TestPki pki;
    final List<Agent> agents = new ArrayList<>();
    final List<Long> qemus = new ArrayList<>();
    final String vmId = UUID.randomUUID().toString();
    FakeManager manager;
    FakePeer peer;

    @BeforeEach
    void setUp() throws IOException {
        state = dir.resolve("state");
        storage = dir.resolve("storage");
        pki = new TestPki(dir.resolve("ca"));
        pki.provisionAgent(state.resolve("tls"));
    }

    @AfterEach
    void tearDown() throws Exception {
        for (Agent a : agents) {
            a.closeAndStopWatchdog();
        }
        qemus.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        Watchdog.stopAny(state, Duration.ofSeconds(5));
        if (peer != null) {
            peer.close();
        }
        if (manager != null) {
            manager.close();
        }
        Poll.until(Duration.ofSeconds(10), "no watchdog left", () -> WatchdogProcesses.find(dir).isEmpty());
    }

    private Agent start(String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("--state-dir", state.toString(), "--storage-dir",
                storage.toString(), "--port", "0", "--accel", "tcg"));
        args.addAll(List.of(extra));
        Agent agent = Agent.start(AgentConfig.parse(args.toArray(String[]::new), Map.of()));
        agents.add(agent);
        return agent;
    }

    private VmSpec spec() {
        return new VmSpec(vmId, "ha-test", 1, 32, null, null,
                List.of(new DiskSpec("disk0", "vms/" + vmId + "/disk0.qcow2", "qcow2", false)), List.of(), 1);
    }

    private VmSupervisor runVm(Agent agent) throws IOException {
        Path disk = storage.resolve("vms/" + vmId + "/disk0.qcow2");
        if (!Files.exists(disk)) {
            new StorageService(storage, null, new QemuImg("qemu-img")).createDisk(DiskCreateRequest.blank(
                    "vms/" + vmId + "/disk0.qcow2", "qcow2", 16L << 20));
        }
        VmSupervisor vm = agent.vms().forStart(vmId);
        assertThat(vm.start(spec()).state()).isEqualTo(VmState.RUNNING);
        qemus.add(vm.status().pid());
        return vm;
    }

    /** A lease file as read (not verified). */
    private SignedLease lease(String host) {
        try {
            return SignedLease.parse(LeaseFile.read(LeaseFile.of(storage, host)));
        } catch (IOException | IllegalArgumentException e) {
            return null;
        }
    }

    /** This agent's lease file, verified with the public key of its certificate ({@code tls/agent.crt}). */
    private SignedLease verified(String host) throws Exception {
        java.security.PublicKey key = org.carevisor.pki.Pem.certificate(Files.readString(state.resolve(
                "tls/agent.crt"))).getPublicKey();
        return SignedLease.verify(LeaseFile.read(LeaseFile.of(storage, host)), key);
    }

    private String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "";
        }
    }

    private void awaitPidListed(Agent agent, VmSupervisor vm) {
        HaDir ha = new HaDir(state);
        Poll.until(Duration.ofSeconds(5), "the watchdog's pid list to name the VM",
                () -> read(ha.pids()).equals(vmId + " " + vm.status().pid() + "\n"));
    }

    @Test
    void losingTheStorageLeaseMakesTheWatchdogKillTheHaVmReportedAsSelfFence() throws Exception {
        Agent agent = start();
        HaDir ha = new HaDir(state);
        Poll.until(Duration.ofSeconds(5), "lease renewals and watchdog mode agent", () -> {
            SignedLease l = lease(agent.hostId());
            return l != null && l.counter() >= 2 && read(ha.mode()).strip().equals("agent");
        });
        assertThat(agent.ha().watchdogPid()).isPresent();
        assertThat(agent.ha().leases()).extracting(LeaseSeen::hostId).contains(agent.hostId());
        assertThat(verified(agent.hostId()).endpoint()).as("signed with the host's key").isEqualTo(agent.endpoint());

        VmSupervisor vm = runVm(agent);
        assertThat(read(ha.pids())).as("not HA yet").isEmpty();
        agent.ha().accept(new ReportAck(List.of(vmId), ReportAck.POWER_OFF));
        awaitPidListed(agent, vm);
        assertThat(read(ha.ack())).contains(vmId);

        // the storage loses the lease directory: renewals fail, the watchdog fires after 7 s
        Path leases = LeaseFile.directory(storage);
        FileTrees.delete(leases);
        Files.writeString(leases, "not a directory");
        Instant lost = Instant.now();
        Poll.until(Duration.ofSeconds(5), "the inventory to warn", () -> agent.inventory().collect().warnings()
                .stream().anyMatch(w -> w.contains("storage lease has not been renewed")));
        VmStatus fenced = Poll.until(Duration.ofSeconds(20), "the watchdog to kill QEMU", () -> {
            VmStatus s = vm.status();
            return s.state().hasProcess() ? null : s;
        });
        assertThat(Duration.between(lost, Instant.now())).isGreaterThanOrEqualTo(Duration.ofSeconds(6));
        assertThat(fenced.cause()).isEqualTo(StopCause.SELF_FENCE);
        assertThat(fenced.state()).isEqualTo(VmState.CRASHED);
        assertThat(fenced.reason()).startsWith("killed by the HA watchdog: the host's storage lease was not renewed"
                + " for ");
        Poll.until(Duration.ofSeconds(5), "the pid list to be emptied", () -> read(ha.pids()).isEmpty());

        Files.delete(leases);
        Poll.until(Duration.ofSeconds(5), "renewals to work again", () -> agent.ha().leaseHealth().ok());

        // stopped in order without a QEMU left: the watchdog has nothing to guard and ends by itself
        agent.close();
        assertThat(read(ha.mode()).strip()).isEqualTo("keeper");
        Poll.until(Duration.ofSeconds(5), "the watchdog to end", () -> WatchdogProcesses.find(state).isEmpty());
    }

    @Test
    void whileTheAgentIsStoppedTheKeeperHoldsTheLeaseAndTheNextAgentTakesOver() throws Exception {
        Agent first = start();
        HaDir ha = new HaDir(state);
        VmSupervisor vm = runVm(first);
        long qemu = vm.status().pid();
        first.ha().accept(new ReportAck(List.of(vmId), ReportAck.POWER_OFF));
        awaitPidListed(first, vm);
        long oldWatchdog = first.ha().watchdogPid().orElseThrow();
        Poll.until(Duration.ofSeconds(5), "mode agent", () -> read(ha.mode()).strip().equals("agent"));

        first.close();
        long closedAt = lease(first.hostId()).counter();
        assertThat(read(ha.mode()).strip()).isEqualTo("keeper");
        assertThat(KeeperStock.remaining(ha)).as("an hour of leases signed ahead (the default)").isEqualTo(3600);
        Thread.sleep(9000); // longer than the self-fence time: only the keeper's renewals save the VM
        SignedLease kept = verified(first.hostId());
        assertThat(kept.writer()).isEqualTo("keeper");
        assertThat(kept.counter()).as(() -> "the keeper renewed once a second; watchdog log:\n"
                + read(state.resolve("ha/watchdog.log"))).isGreaterThanOrEqualTo(closedAt + 5);
        assertThat(KeeperStock.remaining(ha)).isLessThanOrEqualTo(3600 - 5);
        assertThat(ProcessHandle.of(qemu).map(ProcessHandle::isAlive)).contains(true);
        assertThat(ha.selfFenced()).doesNotExist();

        Agent second = start();
        VmSupervisor again = second.vms().get(vmId);
        assertThat(again.status().state()).isEqualTo(VmState.RUNNING);
        assertThat(again.status().pid()).isEqualTo(qemu);
        Poll.until(Duration.ofSeconds(5), "the new agent to renew and switch the watchdog to mode agent", () -> {
            SignedLease l = lease(second.hostId());
            return l.writer().equals("agent") && read(ha.mode()).strip().equals("agent");
        });
        assertThat(lease(second.hostId()).counter()).isGreaterThan(kept.counter());
        Poll.until(Duration.ofSeconds(5), "the unused keeper leases to be removed",
                () -> KeeperStock.remaining(ha) == 0 && !Files.exists(KeeperStock.directory(ha)));
        assertThat(ProcessHandle.of(oldWatchdog).map(ProcessHandle::isAlive).orElse(false)).isFalse();
        assertThat(WatchdogProcesses.find(state)).containsExactly(second.ha().watchdogPid().orElseThrow());
        assertThat(read(ha.pids())).as("the HA set survives the restart (ack.json)")
                .isEqualTo(vmId + " " + qemu + "\n");

        again.powerOff(StopCause.REQUESTED, "test done");
        Poll.until(Duration.ofSeconds(20), "QEMU to stop", () -> !again.hasProcess());
        second.closeAndStopWatchdog();
        assertThat(WatchdogProcesses.find(state)).isEmpty();
        assertThat(read(ha.mode()).strip()).isEqualTo("off");
    }

    @Test
    void anIsolatedHostPowersOffItsHaVmsAndReleasesThemButNotWhenOnlyTheManagerIsDown() throws Exception {
        manager = new FakeManager(pki);
        manager.ack = new ReportAck(List.of(vmId), ReportAck.POWER_OFF);
        peer = new FakePeer(storage);
        Agent agent = start("--manager-url", manager.url(), "--report-interval-ms", "300");
        Poll.until(Duration.ofSeconds(5), "the manager's ack", () -> agent.ha().settings().haVms().contains(vmId));
        Poll.until(Duration.ofSeconds(5), "a report with the leases", () -> manager.lastReport() != null
                && manager.lastReport().leases().stream().map(LeaseSeen::hostId).toList()
                .containsAll(List.of(agent.hostId(), FakePeer.HOST)));

        // 204 keeps the previous settings
        manager.ack = null;
        int seen = manager.reports.size();
        Poll.until(Duration.ofSeconds(5), "more reports", () -> manager.reports.size() > seen + 2);
        assertThat(agent.ha().settings().haVms()).containsExactly(vmId);

        VmSupervisor vm = runVm(agent);
        awaitPidListed(agent, vm);

        // the manager goes down, the peer answers: nothing happens
        manager.close();
        Thread.sleep(8000);
        assertThat(vm.status().state()).isEqualTo(VmState.RUNNING);
        assertThat(agent.ha().isolatedSince()).isNull();

        // the peer cannot be reached either: isolated
        peer.unreachable();
        VmStatus released = Poll.until(Duration.ofSeconds(10), "the isolation response", () -> {
            VmStatus s = vm.status();
            return s.state().hasProcess() ? null : s;
        });
        assertThat(released.cause()).isEqualTo(StopCause.ISOLATION);
        assertThat(released.state()).isEqualTo(VmState.STOPPED);
        assertThat(released.reason()).matches("HA isolation response: the host reached neither the manager nor a"
                + " peer for \\d+ s");
        assertThat(agent.ha().isolatedSince()).isNotNull();
        assertThat(agent.inventory().collect().warnings()).anyMatch(w -> w.contains("isolated since"));
        Poll.until(Duration.ofSeconds(5), "the lease to name the released VM",
                () -> lease(agent.hostId()).releasedIds().equals(List.of(vmId)));
        Thread.sleep(1500);
        assertThat(verified(agent.hostId()).released()).as("listed while it stays stopped, with the run stopped")
                .containsExactly(new SignedLease.Released(vmId, released.startedAt().toEpochMilli()));

        // started again (as the manager would): no longer released, and not stopped again in this isolation
        vm.start(spec());
        qemus.add(vm.status().pid());
        Poll.until(Duration.ofSeconds(5), "the lease to drop the VM", () -> lease(agent.hostId()).released().isEmpty());
        Thread.sleep(2000);
        assertThat(vm.status().state()).isEqualTo(VmState.RUNNING);
        vm.powerOff(StopCause.REQUESTED, "test done");
        Poll.until(Duration.ofSeconds(20), "QEMU to stop", () -> !vm.hasProcess());
    }

    @Test
    void withTheWatchdogSwitchedOffTheLeaseIsStillRenewedAndAnEarlierWatchdogIsStopped() throws Exception {
        HaDir ha = new HaDir(state);
        Files.createDirectories(ha.path());
        long earlier = new Watchdog(state, LeaseFile.of(storage, "x"), HaTimings.SELF_FENCE).start().orElseThrow();
        Agent agent = start("--ha-watchdog", "false");
        assertThat(ProcessHandle.of(earlier).map(ProcessHandle::isAlive).orElse(false)).isFalse();
        assertThat(WatchdogProcesses.find(dir)).isEmpty();
        assertThat(read(ha.mode()).strip()).isEqualTo("off");
        Poll.until(Duration.ofSeconds(5), "lease renewals", () -> {
            SignedLease l = lease(agent.hostId());
            return l != null && l.counter() >= 2;
        });
        assertThat(read(ha.mode()).strip()).as("no watchdog to switch").isEqualTo("off");
        assertThat(agent.inventory().collect().warnings()).noneMatch(w -> w.startsWith("HA:"));
        agent.ha().accept(new ReportAck(List.of(vmId), ReportAck.POWER_OFF));
        assertThat(agent.inventory().collect().warnings()).anyMatch(w -> w.contains("watchdog is disabled"));
        agent.close();
        assertThat(WatchdogProcesses.find(dir)).isEmpty();
    }

    /**
     * A peer host that only exists as a lease file renewed by this test, with an agent endpoint that is a
     * listening socket until {@link #unreachable()} closes it.
     */
    static final class FakePeer implements AutoCloseable {
        static final String HOST = "9e9e9e9e-0000-4000-8000-000000000009";
        private static final java.security.KeyPair KEYS = org.carevisor.pki.Keys.generate();
        private final Path storage;
        private final ServerSocket socket;
        private final Thread renewer;
        private volatile boolean running = true;

        FakePeer(Path storage) throws IOException {
            this.storage = storage;
            this.socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Files.createDirectories(LeaseFile.directory(storage));
            this.renewer = Thread.ofPlatform().daemon().start(this::renew);
        }

        private void renew() {
            long counter = 0;
            String endpoint = "https://127.0.0.1:" + socket.getLocalPort();
            while (running) {
                try {
                    Path file = LeaseFile.of(storage, HOST);
                    HaDir.replace(file, file.resolveSibling("." + HOST + ".tmp"), new SignedLease(HOST, ++counter,
                            Instant.now(), LeaseFile.AGENT, List.of(), endpoint).sign(KEYS.getPrivate()), false);
                    Thread.sleep(500);
                } catch (IOException e) {
                    // the test's directory is going away
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        void unreachable() throws IOException {
            socket.close();
        }

        @Override
        public void close() throws Exception {
            running = false;
            renewer.interrupt();
            renewer.join(5000);
            socket.close();
        }
    }
}
