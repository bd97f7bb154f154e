package org.carevisor.agent.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.carevisor.agent.storage.FileTrees;
import org.carevisor.protocol.HaTimings;
import org.carevisor.protocol.LeaseSeen;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** The storage lease on real files: format, counter, peers, broken files, unwritable and hanging storage. */
class HostLeaseTest {
    private static final String HOST = "host-a";
    private static final String ENDPOINT = "https://10.0.0.1:7701";

    @TempDir
    Path dir;
    Path storage;
    HaDir local;
    List<String> released = List.of();
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
        return new HostLease(storage, HOST, ENDPOINT, local, () -> released, renewals::incrementAndGet);
    }

    private LeaseFile own() throws IOException {
        return LeaseFile.parse(Files.readString(LeaseFile.of(storage, HOST)));
    }

    private void writePeer(String host, long counter, Instant written, String endpoint) throws IOException {
        Files.writeString(LeaseFile.of(storage, host), new LeaseFile(host, counter, written, LeaseFile.AGENT,
                List.of(), endpoint).format());
    }

    @Test
    void writesTheDocumentedFormatAtomicallyAndTheCounterGrowsByOne() throws Exception {
        released = List.of("vm-1", "vm-2");
        HostLease lease = lease();
        long before = System.currentTimeMillis();
        assertThat(lease.renewOnce()).isTrue();
        String text = Files.readString(LeaseFile.of(storage, HOST));
        assertThat(text.lines().toList()).containsExactly("host=host-a", "counter=1",
                text.lines().toList().get(2), "writer=agent", "released=vm-1,vm-2", "endpoint=" + ENDPOINT);
        assertThat(Long.parseLong(text.lines().toList().get(2).substring("written=".length())))
                .isBetween(before, System.currentTimeMillis());
        assertThat(lease.renewOnce()).isTrue();
        assertThat(lease.renewOnce()).isTrue();
        assertThat(own().counter()).isEqualTo(3);
        assertThat(renewals).hasValue(3);
        try (Stream<Path> files = Files.list(LeaseFile.directory(storage))) {
            assertThat(files.map(p -> p.getFileName().toString()).toList()).as("no temporary file is left")
                    .containsExactly("host-a.lease");
        }
        assertThat(Long.parseLong(Files.readString(local.renewed()).strip())).isBetween(before,
                System.currentTimeMillis());
        assertThat(Files.readString(local.counter()).strip()).isEqualTo("3");
        assertThat(lease.health().ok()).isTrue();
        assertThat(lease.health().lastRenewed()).isNotNull();
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
        Files.writeString(LeaseFile.of(storage, HOST), new LeaseFile(HOST, 40, Instant.now(), LeaseFile.KEEPER,
                List.of(), ENDPOINT).format());
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
    }

    @Test
    void parsingIsLenientWhereItMayBeAndStrictWhereItMustBe() {
        LeaseFile l = LeaseFile.parse("# written by hand\nhost=h\n\ncounter=7\nwritten=1000\nfuture=x\n");
        assertThat(l).isEqualTo(new LeaseFile("h", 7, Instant.ofEpochMilli(1000), "agent", List.of(), null));
        assertThat(LeaseFile.parse(l.format())).isEqualTo(l);
        LeaseFile full = new LeaseFile("h", 9, Instant.ofEpochMilli(5), "keeper", List.of("a", "b"), "https://x:1");
        assertThat(LeaseFile.parse(full.format())).isEqualTo(full);
        assertThat(full.seen()).isEqualTo(new LeaseSeen("h", 9, Instant.ofEpochMilli(5), "keeper", List.of("a", "b")));
        assertThatThrownBy(() -> LeaseFile.parse("host=h\ncounter=1\n")).hasMessageContaining("written");
        assertThatThrownBy(() -> LeaseFile.parse("host=h\ncounter=-1\nwritten=1\n")).hasMessageContaining("counter");
        assertThatThrownBy(() -> LeaseFile.parse("host=h\ncounter=1\nwritten=1\njunk\n"))
                .hasMessageContaining("key=value");
    }

    @Test
    void readsPeersSkipsBrokenFilesLoggingEachOnceAndKnowsWhichPeersAreFresh() throws Exception {
        HostLease lease = lease();
        lease.renewOnce(); // creates the directory
        Instant now = Instant.now();
        writePeer("host-b", 12, now, "https://10.0.0.2:7701");
        writePeer("host-c", 99, now.minusSeconds(60), "https://10.0.0.3:7701"); // not renewed for a minute
        Files.writeString(LeaseFile.directory(storage).resolve("host-d.lease"), "host=host-d\ncounter=x\n");
        Files.writeString(LeaseFile.directory(storage).resolve("host-e.lease"), new LeaseFile("someone-else", 1,
                now, "agent", List.of(), null).format());
        Files.writeString(LeaseFile.directory(storage).resolve(".host-b.lease.agent.tmp"), "half a fi");

        lease.renewOnce();
        lease.renewOnce();
        assertThat(lease.leases()).extracting(LeaseSeen::hostId).containsExactly("host-a", "host-b", "host-c");
        assertThat(lease.leases().get(1).counter()).isEqualTo(12);
        assertThat(lease.freshPeers(Instant.now(), HaTimings.LEASE_EXPIRED))
                .containsExactly(new IsolationCheck.Peer("host-b", "https://10.0.0.2:7701"));
        List<String> warnings = log.list.stream().map(ILoggingEvent::getFormattedMessage)
                .filter(m -> m.startsWith("ignoring lease file")).toList();
        assertThat(warnings).as("each broken file is logged once, not at every read").hasSize(2);
        assertThat(warnings).anySatisfy(m -> assertThat(m).contains("host-d.lease", "counter"));
        assertThat(warnings).anySatisfy(m -> assertThat(m).contains("host-e.lease", "names host someone-else"));

        // host-c comes back: its counter advancing makes it fresh again by this host's clock
        writePeer("host-c", 100, now.minusSeconds(60), "https://10.0.0.3:7701");
        lease.renewOnce();
        assertThat(lease.freshPeers(Instant.now(), HaTimings.LEASE_EXPIRED)).extracting(IsolationCheck.Peer::hostId)
                .containsExactly("host-b", "host-c");
        assertThat(lease.freshPeers(Instant.now().plusSeconds(13), HaTimings.LEASE_EXPIRED)).isEmpty();
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
        running = new HostLease(storage, HOST, ENDPOINT, local, () -> released, renewals::incrementAndGet, writer);
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
