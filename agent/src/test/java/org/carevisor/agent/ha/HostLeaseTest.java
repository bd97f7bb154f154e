package org.carevisor.agent.ha;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.security.KeyPair;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.carevisor.agent.storage.FileTrees;
import org.carevisor.pki.Keys;
import org.carevisor.protocol.HaTimings;
import org.carevisor.protocol.LeaseSeen;
import org.carevisor.protocol.SignedLease;
import org.carevisor.testkit.LimitedStorage;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The storage lease on real files: signed format, counter, peers, broken and foreign files, a lease file replaced
 * by someone else, unwritable and hanging storage.
 */
class HostLeaseTest {
    private static final String HOST = "aaaaaaaa-0000-4000-8000-00000000000a";
    private static final String B = "bbbbbbbb-0000-4000-8000-00000000000b";
    private static final String C = "cccccccc-0000-4000-8000-00000000000c";
    private static final String D = "dddddddd-0000-4000-8000-00000000000d";
    private static final String E = "eeeeeeee-0000-4000-8000-00000000000e";
    private static final String VM1 = "11111111-0000-4000-8000-000000000001";
    private static final String VM2 = "11111111-0000-4000-8000-000000000002";
    private static final String ENDPOINT = "https://10.0.0.1:7701";
    private static final KeyPair KEYS = Keys.generate();
    private static final KeyPair PEER_KEYS = Keys.generate();

    @TempDir
    Path dir;
    Path storage;
    HaDir local;
    List<SignedLease.Released> released = List.of();
    List<String> peers = List.of();
    final AtomicInteger renewals = new AtomicInteger();
    final ListAppender<ILoggingEvent> log = new ListAppender<>();
    HostLease running;

    @BeforeEach
    void setUp() {
        storage = dir.resolve("storage");
        local = new HaDir(dir.resolve("state"));
        log.start();
        ((Logger) LoggerFactory.getLogger(HostLease.class)).addAppender(log);
    }

    @AfterEach
    void tearDown() {
        ((Logger) LoggerFactory.getLogger(HostLease.class)).detachAppender(log);
        if (running != null) {
            running.stop(Duration.ofSeconds(5));
        }
    }

    private HostLease lease() {
        return new HostLease(storage, HOST, ENDPOINT, local, KEYS.getPrivate(), () -> released, () -> peers,
                renewals::incrementAndGet);
    }

    /** This host's lease file, verified with its key. */
    private SignedLease own() throws Exception {
        return SignedLease.verify(LeaseFile.read(LeaseFile.of(storage, HOST)), KEYS.getPublic());
    }

    private void writePeer(String host, long counter, Instant written, String endpoint) throws IOException {
        Files.writeString(LeaseFile.of(storage, host), new SignedLease(host, counter, written, LeaseFile.AGENT,
                List.of(), endpoint).sign(PEER_KEYS.getPrivate()));
    }

    /**
     * A full storage (a real size-limited ext4, filled to the last block): renewals go on in place, a longer lease
     * that needs a new file fails (and is counted as failing), and a link put in the lease file's place is never
     * written through.
     */
    @Test
    void renewalsGoOnInPlaceWhenTheStorageIsFull() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mounting a file system needs root");
        try (LimitedStorage full = LimitedStorage.mount(storage, 8)) {
            HostLease lease = lease();
            assertThat(lease.renewOnce()).isTrue();
            Path file = LeaseFile.of(storage, HOST);
            assertThat(Files.size(file) % LeaseFile.BLOCK).as("padded to whole blocks").isZero();
            Object inode = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
            full.fill();
            assertThat(full.usable()).isZero();
            for (int i = 0; i < 3; i++) {
                assertThat(lease.renewOnce()).as("renewal %d on the full storage", i).isTrue();
            }
            assertThat(own().counter()).isEqualTo(4);
            assertThat(Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class).fileKey())
                    .as("written in place, not a new file").isEqualTo(inode);
            // a lease longer than the file needs new blocks: that renewal fails and says why
            List<SignedLease.Released> many = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                many.add(new SignedLease.Released(String.format("11111111-0000-4000-8000-%012d", i), i));
            }
            released = many;
            assertThat(lease.renewOnce()).isFalse();
            assertThat(lease.health().problem()).contains("No space left on device");
            released = List.of();
            assertThat(lease.renewOnce()).as("a short lease fits in place again").isTrue();
            assertThat(own().counter()).as("the failed renewal used no counter").isEqualTo(5);
            full.free();
            // a link in the lease file's place: replaced by a file, its target untouched
            Path victim = dir.resolve("victim");
            Files.writeString(victim, "x".repeat(8192));
            Files.delete(file);
            Files.createSymbolicLink(file, victim);
            assertThat(lease.renewOnce()).isFalse(); // found no lease of its own: not counted, as before
            assertThat(Files.readString(victim)).isEqualTo("x".repeat(8192));
            assertThat(Files.isSymbolicLink(file)).isFalse();
            assertThat(own().counter()).isEqualTo(6);
            // a hard link in its place (same file system): replaced by a file of its own, the other name untouched
            Path other = storage.resolve("other");
            Files.writeString(other, "y".repeat(8192));
            Files.delete(file);
            Files.createLink(file, other);
            lease.renewOnce();
            assertThat(Files.readString(other)).isEqualTo("y".repeat(8192));
            assertThat(LeaseFile.ownPlainFile(file)).isTrue();
        }
    }

    @Test
    void writesTheDocumentedSignedFormatAtomicallyAndTheCounterGrowsByOne() throws Exception {
        released = List.of(new SignedLease.Released(VM1, 1000), new SignedLease.Released(VM2, 2000));
        HostLease lease = lease();
        long before = System.currentTimeMillis();
        assertThat(lease.renewOnce()).isTrue();
        String text = LeaseFile.read(LeaseFile.of(storage, HOST));
        List<String> lines = text.lines().toList();
        assertThat(lines.subList(0, 8)).containsExactly("carevisor-lease=1", "host=" + HOST, "counter=1",
                lines.get(3), "writer=agent", "released=" + VM1 + "," + VM2,
                "released-runs=" + VM1 + "@1000," + VM2 + "@2000", "endpoint=" + ENDPOINT);
        assertThat(lines.get(8)).startsWith("signature=");
        assertThat(Long.parseLong(lines.get(3).substring("written=".length())))
                .isBetween(before, System.currentTimeMillis());
        assertThat(own().counter()).as("signed with the host's key").isEqualTo(1);
        assertThat(lease.renewOnce()).isTrue();
        assertThat(lease.renewOnce()).isTrue();
        assertThat(own().counter()).isEqualTo(3);
        assertThat(renewals).hasValue(3);
        try (Stream<Path> files = Files.list(LeaseFile.directory(storage))) {
            assertThat(files.map(p -> p.getFileName().toString()).toList()).as("no temporary file is left")
                    .containsExactly(HOST + ".lease");
        }
        assertThat(Long.parseLong(Files.readString(local.renewed()).strip())).isBetween(before,
                System.currentTimeMillis());
        assertThat(Files.readString(local.counter()).strip()).isEqualTo("3");
        assertThat(lease.health().ok()).isTrue();
        assertThat(lease.health().lastRenewed()).isNotNull();
        // the report carries the own lease as written, with its text
        LeaseSeen mine = lease.leases().get(0);
        assertThat(mine.hostId()).isEqualTo(HOST);
        assertThat(mine.counter()).isEqualTo(3);
        assertThat(mine.released()).containsExactly(VM1, VM2);
        assertThat(mine.text()).isEqualTo(LeaseFile.read(LeaseFile.of(storage, HOST)));
    }

    @Test
    void theCounterContinuesAfterARestartAndNeverGoesBack() throws Exception {
        HostLease first = lease();
        first.renewOnce();
        first.renewOnce();
        assertThat(own().counter()).isEqualTo(2);
        lease().renewOnce();
        assertThat(own().counter()).as("a new agent continues from the file").isEqualTo(3);

        // the keeper wrote on (the file is ahead of the local counter)
        Files.writeString(LeaseFile.of(storage, HOST), new SignedLease(HOST, 40, Instant.now(), LeaseFile.KEEPER,
                List.of(), ENDPOINT).sign(KEYS.getPrivate()));
        lease().renewOnce();
        assertThat(own().counter()).isEqualTo(41);
        assertThat(own().writer()).isEqualTo("agent");

        // the file is lost or unreadable: the local counter keeps the count
        Files.delete(LeaseFile.of(storage, HOST));
        lease().renewOnce();
        assertThat(own().counter()).isEqualTo(42);
        Files.writeString(LeaseFile.of(storage, HOST), "garbage");
        HostLease again = lease();
        again.renewOnce();
        assertThat(own().counter()).isEqualTo(43);
        assertThat(again.counter()).isEqualTo(43);
    }

    @Test
    void aLeaseFileReplacedBySomeoneElseIsRestoredButThatRenewalDoesNotCount() throws Exception {
        HostLease lease = lease();
        assertThat(lease.renewOnce()).isTrue();
        String old = LeaseFile.read(LeaseFile.of(storage, HOST));
        assertThat(lease.renewOnce()).isTrue();
        String stamp = Files.readString(local.renewed());
        Thread.sleep(5);

        // a host with write access to the storage puts the older lease back (its peers would see no renewal)
        Files.writeString(LeaseFile.of(storage, HOST), old);
        assertThat(lease.renewOnce()).as("not counted").isFalse();
        assertThat(own().counter()).as("written again, ahead").isEqualTo(3);
        assertThat(Files.readString(local.renewed())).as("the watchdog sees no renewal").isEqualTo(stamp);
        assertThat(lease.health().ok()).isFalse();
        assertThat(lease.health().problem()).contains("replaced by another writer", "holds counter 1, below 2");
        // removed, or replaced by something that is no lease of this host: the same
        Files.delete(LeaseFile.of(storage, HOST));
        assertThat(lease.renewOnce()).isFalse();
        Files.writeString(LeaseFile.of(storage, HOST), new SignedLease(B, 99, Instant.now(), "agent", List.of(), null)
                .sign(PEER_KEYS.getPrivate()));
        assertThat(lease.renewOnce()).isFalse();
        assertThat(renewals).hasValue(2);
        assertThat(log.list).filteredOn(e -> e.getFormattedMessage().contains("was replaced by another writer"))
                .as("warned once per episode").hasSize(1);

        // left alone again: renewals count
        assertThat(lease.renewOnce()).isTrue();
        assertThat(lease.health().ok()).isTrue();
        assertThat(Files.readString(local.renewed())).isNotEqualTo(stamp);
        assertThat(renewals).hasValue(3);
    }

    @Test
    void readsPeersSkipsBrokenFilesLoggingEachOnceAndKnowsWhichPeersAreFresh() throws Exception {
        HostLease lease = lease();
        lease.renewOnce(); // creates the directory
        Instant now = Instant.now();
        writePeer(B, 12, now, "https://10.0.0.2:7701");
        writePeer(C, 99, now.minusSeconds(60), "https://10.0.0.3:7701"); // not renewed for a minute
        Files.writeString(LeaseFile.directory(storage).resolve(D + ".lease"), "host=" + D + "\ncounter=x\n");
        Files.writeString(LeaseFile.directory(storage).resolve(E + ".lease"), new SignedLease(B, 1, now, "agent",
                List.of(), null).sign(PEER_KEYS.getPrivate()));
        Files.writeString(LeaseFile.directory(storage).resolve("." + B + ".lease.agent.tmp"), "half a fi");
        Files.writeString(LeaseFile.directory(storage).resolve("not-a-host.lease"), "host=not-a-host\n");

        lease.renewOnce();
        lease.renewOnce();
        assertThat(lease.leases()).extracting(LeaseSeen::hostId).containsExactly(HOST, B, C);
        assertThat(lease.leases().get(1).counter()).isEqualTo(12);
        assertThat(lease.leases().get(1).text()).isEqualTo(LeaseFile.read(LeaseFile.of(storage, B)));
        assertThat(lease.freshPeers(Instant.now(), HaTimings.LEASE_EXPIRED))
                .containsExactly(new IsolationCheck.Peer(B, "https://10.0.0.2:7701"));
        List<String> warnings = log.list.stream().map(ILoggingEvent::getFormattedMessage)
                .filter(m -> m.startsWith("ignoring lease file")).toList();
        assertThat(warnings).as("each broken file is logged once, not at every read").hasSize(2);
        assertThat(warnings).anySatisfy(m -> assertThat(m).contains(D + ".lease", "counter"));
        assertThat(warnings).anySatisfy(m -> assertThat(m).contains(E + ".lease", "names host " + B));

        // C comes back: its counter advancing makes it fresh again by this host's clock
        writePeer(C, 100, now.minusSeconds(60), "https://10.0.0.3:7701");
        lease.renewOnce();
        assertThat(lease.freshPeers(Instant.now(), HaTimings.LEASE_EXPIRED)).extracting(IsolationCheck.Peer::hostId)
                .containsExactly(B, C);
        assertThat(lease.freshPeers(Instant.now().plusSeconds(13), HaTimings.LEASE_EXPIRED)).isEmpty();

        // once the manager names the peers, only theirs are read
        peers = List.of(C, HOST);
        lease.renewOnce();
        assertThat(lease.leases()).extracting(LeaseSeen::hostId).containsExactly(HOST, C);
    }

    @Test
    void whatOthersPutIntoTheLeaseDirectoryCannotMakeTheReportTooLargeOrRefused() throws Exception {
        HostLease lease = lease();
        lease.renewOnce();
        Path dir = LeaseFile.directory(storage);
        for (int i = 0; i < 300; i++) {
            String id = String.format("ffffffff-0000-4000-8000-%012d", i);
            writePeer(id, i, Instant.now(), null);
        }
        String huge = String.format("ffffffff-0000-4000-8000-%012d", 999_999);
        Files.writeString(dir.resolve(huge + ".lease"), "#".repeat(SignedLease.MAX_TEXT + 10));
        String notUuidReleased = String.format("ffffffff-0000-4000-8000-%012d", 5);
        Files.writeString(dir.resolve(notUuidReleased + ".lease"), new SignedLease(notUuidReleased, 1, Instant.now(),
                "agent", List.of(new SignedLease.Released("../../etc", 1)), null).sign(PEER_KEYS.getPrivate()));
        lease.renewOnce();
        List<LeaseSeen> seen = lease.leases();
        assertThat(seen).hasSizeLessThanOrEqualTo(256);
        assertThat(seen.stream().mapToInt(l -> l.text().length()).sum()).isLessThanOrEqualTo(
                HostLease.MAX_REPORTED_TEXT + 1024);
        assertThat(seen).extracting(LeaseSeen::hostId).contains(HOST).doesNotContain(huge, notUuidReleased);
        List<String> ids = new ArrayList<>(seen.stream().map(LeaseSeen::hostId).toList());
        assertThat(ids).doesNotHaveDuplicates();
    }

    @Test
    void aLeaseDirectoryThatCannotBeWrittenLeavesTheStampAloneAndReportsFailure() throws Exception {
        HostLease lease = lease();
        assertThat(lease.renewOnce()).isTrue();
        String stamp = Files.readString(local.renewed());
        Path leases = LeaseFile.directory(storage);
        FileTrees.delete(leases);
        Files.writeString(leases, "not a directory");
        Thread.sleep(5);

        assertThat(lease.renewOnce()).isFalse();
        assertThat(lease.renewOnce()).isFalse();
        assertThat(Files.readString(local.renewed())).as("the watchdog must see no renewal").isEqualTo(stamp);
        assertThat(renewals).hasValue(1);
        HostLease.Health h = lease.health();
        assertThat(h.ok()).isFalse();
        assertThat(h.failingSince()).isAfter(h.lastRenewed());
        assertThat(h.problem()).contains(leases.toString());
        assertThat(log.list).filteredOn(e -> e.getFormattedMessage().startsWith("storage lease of host"))
                .as("failures are warned about once").hasSize(1);

        Files.delete(leases);
        assertThat(lease.renewOnce()).isTrue();
        assertThat(lease.health().ok()).isTrue();
        assertThat(Files.readString(local.renewed())).isNotEqualTo(stamp);
        assertThat(log.list).filteredOn(e -> e.getFormattedMessage().contains("is renewed again")).hasSize(1);
    }

    /** A fault injected where no real file system can be made to hang on demand: a write that blocks. */
    private static final class FakeHangingWriter implements HostLease.Writer {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        volatile boolean hang;

        @Override
        public void write(Path target, Path tmp, String content) throws IOException {
            if (hang) {
                entered.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            HaDir.replace(target, tmp, content, true);
        }
    }

    @Test
    void aHangingStorageWriteBlocksOnlyTheRenewalThread() throws Exception {
        FakeHangingWriter writer = new FakeHangingWriter();
        running = new HostLease(storage, HOST, ENDPOINT, local, KEYS.getPrivate(), () -> released, () -> peers,
                renewals::incrementAndGet, writer);
        running.start();
        Poll.until(Duration.ofSeconds(5), "the first renewal", () -> renewals.get() >= 1);
        writer.hang = true;
        assertThat(writer.entered.await(5, TimeUnit.SECONDS)).isTrue();
        String stamp = Files.readString(local.renewed());
        HostLease.Health hanging = Poll.until(Duration.ofSeconds(5), "the hang to be reported", () -> {
            HostLease.Health h = running.health();
            return h.ok() ? null : h;
        });
        assertThat(hanging.problem()).contains("has not returned");
        assertThat(running.leases()).as("readers are not blocked").isNotEmpty();
        assertThat(Files.readString(local.renewed())).isEqualTo(stamp);
        assertThat(running.stop(Duration.ofMillis(200))).as("the thread is stuck in the write").isFalse();

        writer.release.countDown();
        Poll.until(Duration.ofSeconds(5), "the renewal thread to end", () -> running.stop(Duration.ofMillis(100)));
        assertThat(own().counter()).isGreaterThan(1);
    }
}
