package org.carevisor.agent.ha;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.security.KeyPair;
import org.carevisor.agent.storage.FileTrees;
import org.carevisor.pki.Keys;
import org.carevisor.protocol.SignedLease;
import org.carevisor.testkit.LimitedStorage;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The watchdog script with real processes: a copy of {@code sleep} named {@code qemu-system-x86_64} stands in
 * for QEMU. Short self-fence times (2 s) keep the tests quick.
 */
class WatchdogTest {
    private static final Duration FENCE = Duration.ofSeconds(2);

    @TempDir
    Path dir;
    Path state;
    Path storage;
    Path leaseFile;
    HaDir ha;
    Watchdog watchdog;
    final List<Process> processes = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        state = dir.resolve("state");
        ha = new HaDir(state);
        Files.createDirectories(ha.path());
        Files.writeString(state.resolve("host-id"), "host-a\n");
        storage = dir.resolve("storage");
        leaseFile = LeaseFile.of(storage, "host-a");
        Files.createDirectories(leaseFile.getParent());
    }

    @AfterEach
    void tearDown() {
        Watchdog.stopAny(state, Duration.ofSeconds(5));
        processes.forEach(Process::destroyForcibly);
        Poll.until(Duration.ofSeconds(10), "watchdog processes of the test to end",
                () -> WatchdogProcesses.find(dir).isEmpty());
    }

    /** A process whose argv[0] names qemu. */
    private Process qemu() throws IOException {
        Path bin = dir.resolve("bin/qemu-system-x86_64");
        if (!Files.exists(bin)) {
            Files.createDirectories(bin.getParent());
            Files.copy(Path.of("/bin/sleep"), bin, StandardCopyOption.COPY_ATTRIBUTES);
        }
        return started(new ProcessBuilder(bin.toString(), "600"));
    }

    private Process notQemu() throws IOException {
        return started(new ProcessBuilder("/bin/sleep", "600"));
    }

    private Process started(ProcessBuilder pb) throws IOException {
        Process p = pb.start();
        processes.add(p);
        return p;
    }

    private void renewed() throws IOException {
        ha.write(ha.renewed(), System.currentTimeMillis() + "\n");
    }

    private void pids(String... lines) throws IOException {
        ha.write(ha.pids(), String.join("\n", lines) + "\n");
    }

    private long start(Watchdog.Mode mode) throws IOException {
        return startMaybe(mode).orElseThrow();
    }

    private OptionalLong startMaybe(Watchdog.Mode mode) throws IOException {
        watchdog = new Watchdog(state, leaseFile, FENCE);
        watchdog.mode(mode);
        return watchdog.start();
    }

    private static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    private static boolean ends(Process p, Duration within) throws InterruptedException {
        return p.waitFor(within.toMillis(), TimeUnit.MILLISECONDS);
    }

    private List<String[]> selfFenced() throws IOException {
        return Files.readAllLines(ha.selfFenced()).stream().map(l -> l.split(" ")).toList();
    }

    @Test
    void aStaleLeaseKillsTheListedQemuAndRecordsWhichVm() throws Exception {
        Process q = qemu();
        pids("vm-1 " + q.pid());
        renewed();
        long renewedAt = System.nanoTime();
        Instant qemuStarted = Instant.now().minusSeconds(1);
        start(Watchdog.Mode.AGENT);

        assertThat(ends(q, Duration.ofSeconds(8))).as("QEMU killed").isTrue();
        long after = (System.nanoTime() - renewedAt) / 1_000_000;
        assertThat(after).as("not before the self-fence time").isGreaterThanOrEqualTo(FENCE.toMillis());
        assertThat(q.exitValue()).as("SIGKILL").isEqualTo(137);
        List<String[]> lines = selfFenced();
        assertThat(lines).hasSize(1);
        assertThat(lines.get(0)[1]).isEqualTo("vm-1");
        assertThat(lines.get(0)[2]).isEqualTo(Long.toString(q.pid()));
        assertThat(Long.parseLong(lines.get(0)[0])).isBetween(Instant.now().getEpochSecond() - 10,
                Instant.now().getEpochSecond());
        assertThat(Long.parseLong(lines.get(0)[3])).isGreaterThanOrEqualTo(FENCE.toSeconds());
        assertThat(new SelfFenceLog(ha).reason("vm-1", q.pid(), qemuStarted)).get().asString()
                .startsWith("killed by the HA watchdog: the host's storage lease was not renewed for ");
        assertThat(new SelfFenceLog(ha).reason("vm-1", q.pid(), Instant.now().plusSeconds(60)))
                .as("an entry older than the process does not count").isEmpty();
        assertThat(new SelfFenceLog(ha).reason("vm-2", q.pid(), qemuStarted)).isEmpty();
        assertThat(watchdog.pid()).as("the watchdog goes on after fencing").isPresent();
    }

    @Test
    void freshRenewalsKeepTheVmsRunning() throws Exception {
        Process q = qemu();
        pids("vm-1 " + q.pid());
        renewed();
        start(Watchdog.Mode.AGENT);
        long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < until) {
            renewed();
            Thread.sleep(300);
        }
        assertThat(q.isAlive()).isTrue();
        assertThat(ha.selfFenced()).doesNotExist();
        // and when the renewals stop, the same watchdog does fence
        assertThat(ends(q, Duration.ofSeconds(8))).isTrue();
    }

    @Test
    void aListedPidThatIsNoQemuIsNotKilled() throws Exception {
        Process other = notQemu();
        Process q = qemu();
        pids("vm-x " + other.pid(), "garbage line", "vm-y " + q.pid());
        renewed();
        start(Watchdog.Mode.AGENT);
        assertThat(ends(q, Duration.ofSeconds(8))).isTrue();
        Thread.sleep(1500); // more fencing rounds
        assertThat(other.isAlive()).as("a reused pid of another program is spared").isTrue();
        assertThat(selfFenced()).extracting(f -> f[1]).containsOnly("vm-y");
    }

    @Test
    void modeOffDoesNothing() throws Exception {
        Process q = qemu();
        pids("vm-1 " + q.pid());
        renewed();
        start(Watchdog.Mode.OFF);
        Thread.sleep(4000);
        assertThat(q.isAlive()).isTrue();
        assertThat(watchdog.pid()).isPresent();
    }

    private static final KeyPair KEYS = Keys.generate();
    private static final String ENDPOINT = "https://10.0.0.1:7701";

    /** A guarded QEMU, the agent's last lease (counter 5) and {@code stock} leases signed ahead from counter 6. */
    private Process keeperSetUp(int stock) throws Exception {
        Process q = qemu();
        Files.createDirectories(state.resolve("vms/vm-1"));
        Files.writeString(state.resolve("vms/vm-1/qemu.pid"), q.pid() + "\n");
        pids("vm-1 " + q.pid());
        Files.writeString(leaseFile, new SignedLease("host-a", 5, Instant.now(), LeaseFile.AGENT, List.of(), ENDPOINT)
                .sign(KEYS.getPrivate()));
        ha.write(ha.counter(), "5\n");
        KeeperStock.write(ha, KEYS.getPrivate(), "host-a", ENDPOINT, 6, stock,
                List.of(new SignedLease.Released("vm-9", 1234)), Instant.now());
        renewed();
        return q;
    }

    private SignedLease leaseNow() {
        try {
            return SignedLease.verify(LeaseFile.read(leaseFile), KEYS.getPublic());
        } catch (IOException | SignedLease.Invalid e) {
            return null;
        }
    }

    /** On a full storage (a real ext4 filled to the last block) the keeper goes on renewing in place. */
    @Test
    void theKeeperRenewsInPlaceWhenTheStorageIsFull() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mounting a file system needs root");
        try (LimitedStorage full = LimitedStorage.mount(storage, 8)) {
            Files.createDirectories(leaseFile.getParent());
            Process q = keeperSetUp(12);
            LeaseFile.write(leaseFile, leaseFile.resolveSibling(".t"), LeaseFile.read(leaseFile)); // padded, as agents do
            Object inode = Files.readAttributes(leaseFile, BasicFileAttributes.class).fileKey();
            full.fill();
            assertThat(full.usable()).isZero();
            start(Watchdog.Mode.KEEPER);
            Poll.until(Duration.ofSeconds(10), "the keeper to renew on the full storage", () -> {
                SignedLease l = leaseNow();
                return l != null && l.counter() >= 9 ? true : null;
            });
            assertThat(q.isAlive()).as("renewed for longer than the self-fence time").isTrue();
            assertThat(Files.readAttributes(leaseFile, BasicFileAttributes.class).fileKey()).as("in place")
                    .isEqualTo(inode);
            Watchdog.stopAny(state, Duration.ofSeconds(5));
        }
    }

    @Test
    void theKeeperWritesTheLeasesSignedAheadOneASecondAndFencesWhenTheyRunOut() throws Exception {
        Process q = keeperSetUp(4);
        assertThat(KeeperStock.remaining(ha)).isEqualTo(4);
        start(Watchdog.Mode.KEEPER);

        SignedLease kept = Poll.until(Duration.ofSeconds(10), "the keeper to write its last lease", () -> {
            SignedLease l = leaseNow();
            return l != null && l.counter() == 9 ? l : null;
        });
        // what the keeper wrote is what the agent signed, byte for byte
        assertThat(kept.writer()).isEqualTo("keeper");
        assertThat(kept.hostId()).isEqualTo("host-a");
        assertThat(kept.released()).containsExactly(new SignedLease.Released("vm-9", 1234));
        assertThat(kept.endpoint()).isEqualTo(ENDPOINT);
        assertThat(q.isAlive()).as("renewed by the keeper for longer than the self-fence time").isTrue();
        Poll.until(Duration.ofSeconds(3), "the keeper to record its counter", () -> {
            try {
                return Long.parseLong(Files.readString(ha.counter()).strip()) == 9 ? true : null;
            } catch (IOException | NumberFormatException e) {
                return null;
            }
        });
        assertThat(KeeperStock.remaining(ha)).as("each lease is written once").isZero();

        // none left: the renewals stop and the watchdog fences as when the storage fails
        assertThat(ends(q, Duration.ofSeconds(8))).isTrue();
        assertThat(selfFenced()).extracting(f -> f[1]).containsExactly("vm-1");
        assertThat(leaseNow().counter()).as("no lease beyond the stock").isEqualTo(9);
        assertThat(Files.readString(ha.watchdogLog())).contains("no lease 10 signed ahead is left");
    }

    @Test
    void theKeeperFencesWhenTheStorageFails() throws Exception {
        Process q = keeperSetUp(600);
        start(Watchdog.Mode.KEEPER);
        Poll.until(Duration.ofSeconds(8), "the keeper to renew the lease a few times", () -> {
            SignedLease l = leaseNow();
            return l != null && l.counter() >= 8 ? true : null;
        });
        FileTrees.delete(leaseFile.getParent());
        Files.writeString(leaseFile.getParent(), "not a directory");
        assertThat(ends(q, Duration.ofSeconds(8))).isTrue();
        assertThat(selfFenced()).extracting(f -> f[1]).containsExactly("vm-1");
    }

    @Test
    void aRenewalDoesNotCountWhenTheKeeperFindsItsLeaseFileReplacedByAnOlderOne() throws Exception {
        Process q = keeperSetUp(600);
        String old = LeaseFile.read(leaseFile);
        start(Watchdog.Mode.KEEPER);
        Poll.until(Duration.ofSeconds(8), "the keeper to renew the lease", () -> {
            SignedLease l = leaseNow();
            return l != null && l.counter() >= 7 ? true : null;
        });
        // someone with write access to the storage puts the old lease back again and again (hiding the renewals)
        Thread hider = Thread.ofPlatform().daemon().start(() -> {
            Path tmp = leaseFile.resolveSibling(".hider.tmp");
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    Files.writeString(tmp, old);
                    Files.move(tmp, leaseFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    return;
                } catch (IOException e) {
                    // the keeper's rename raced: next round
                }
            }
        });
        try {
            assertThat(ends(q, Duration.ofSeconds(10))).as("the HA VM is killed").isTrue();
        } finally {
            hider.interrupt();
            hider.join();
        }
        assertThat(selfFenced()).extracting(f -> f[1]).containsExactly("vm-1");
        assertThat(Files.readString(ha.watchdogLog())).contains("replaced by another writer");
    }

    @Test
    void theKeeperEndsWhenNoQemuIsLeftToGuard() throws Exception {
        renewed();
        OptionalLong pid = startMaybe(Watchdog.Mode.KEEPER); // it may end before start() sees it run
        Poll.until(Duration.ofSeconds(5), "the keeper to end", () -> pid.isEmpty() || !alive(pid.getAsLong()));
        assertThat(Files.readString(ha.watchdogLog())).contains("nothing to guard");
    }

    @Test
    void itEndsWhenTheStateDirectoryIsRemoved() throws Exception {
        long pid = start(Watchdog.Mode.OFF);
        Thread.sleep(1500);
        assertThat(alive(pid)).isTrue();
        FileTrees.delete(state);
        Poll.until(Duration.ofSeconds(5), "the watchdog to end", () -> !alive(pid));
    }

    @Test
    void aNewWatchdogReplacesTheOldOneAndStopEndsItForGood() throws Exception {
        long first = start(Watchdog.Mode.OFF);
        long second = new Watchdog(state, leaseFile, FENCE).start().orElseThrow();
        assertThat(second).isNotEqualTo(first);
        assertThat(alive(first)).isFalse();
        assertThat(WatchdogProcesses.find(state)).containsExactly(second);

        assertThat(watchdog.stop(Duration.ofSeconds(5))).isTrue();
        assertThat(WatchdogProcesses.find(state)).isEmpty();
        assertThat(watchdog.mode()).isEqualTo(Watchdog.Mode.OFF);
        assertThat(ha.watchdogPid()).doesNotExist();
    }
}
