package org.carevisor.agent.ha;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.carevisor.protocol.HaTimings;
import org.carevisor.protocol.LeaseSeen;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This host's storage lease: every {@link HaTimings#LEASE_RENEW} it writes {@link LeaseFile} {@code
 * <storageRoot>/.carevisor/leases/<hostId>.lease} durably and atomically (temporary file in the same
 * directory, fsync, rename), then writes the time into the local stamp {@link HaDir#renewed()} that the
 * watchdog watches, and reads every host's lease for the report and for the isolation check.
 *
 * <p>Why: a host that can still write the shared storage proves to its peers (and through their reports to
 * the manager) that it is alive even when its network to the manager is cut. A host that cannot renew for
 * {@link HaTimings#SELF_FENCE} has its HA VMs killed by the watchdog, so the manager may restart them
 * elsewhere once the lease is certainly expired.
 *
 * <p>The counter grows by one per renewal and never goes back: each renewal continues from the largest of
 * the last value written by this process, the local {@link HaDir#counter()} (also kept by the watchdog's
 * keeper) and the counter in the existing lease file.
 *
 * <p>Renewals run on their own thread ({@code ha-lease}), so a storage write that hangs blocks nothing else:
 * the stamp is then not written, the watchdog fires, and {@link #health()} reports the hang. Thread-safe.
 */
public final class HostLease {
    private static final Logger LOG = LoggerFactory.getLogger(HostLease.class);
    /** A renewal attempt still running after this long counts as failing (the storage hangs). */
    static final Duration HANG = HaTimings.LEASE_RENEW.multipliedBy(2);

    /** Writes a lease file: {@code content} into {@code tmp}, forced to disk, renamed over {@code target}. */
    @FunctionalInterface
    interface Writer {
        void write(Path target, Path tmp, String content) throws IOException;
    }

    /**
     * How the lease is doing.
     *
     * @param lastRenewed   the last successful renewal by this process (null: none yet)
     * @param failingSince  when renewals started to fail or hang (null: they work)
     * @param problem       what fails (null: nothing)
     */
    public record Health(Instant lastRenewed, Instant failingSince, String problem) {
        public boolean ok() {
            return failingSince == null;
        }
    }

    /** What this process last saw of one host's lease, for the freshness of peers. */
    private record Observed(long counter, Instant advancedAt, String endpoint) {
    }

    private final Path directory;
    private final Path file;
    private final Path tmp;
    private final String hostId;
    private final String endpoint;
    private final HaDir local;
    private final Supplier<List<String>> released;
    private final Runnable afterRenewal;
    private final Writer writer;
    private final Object wake = new Object();
    private volatile boolean running;
    private Thread thread;

    // guarded by this
    private long counter;
    private Instant lastRenewed;
    private Instant failingSince;
    private String problem;
    private Instant attemptStarted;
    private boolean warned;
    private boolean readWarned;
    private List<LeaseSeen> seen = List.of();
    private final Map<String, Observed> observed = new HashMap<>();
    private final Set<String> brokenLogged = new HashSet<>();

    /**
     * The lease of {@code hostId} on the storage at {@code storageRoot}.
     *
     * @param endpoint     this agent's API endpoint, written into the lease for peers
     * @param local        the agent's HA directory (stamp and counter)
     * @param released     VM ids to list as released, asked at every renewal
     * @param afterRenewal called on the lease thread after each successful renewal
     */
    public HostLease(Path storageRoot, String hostId, String endpoint, HaDir local, Supplier<List<String>> released,
                     Runnable afterRenewal) {
        this(storageRoot, hostId, endpoint, local, released, afterRenewal, (t, f, c) -> HaDir.replace(t, f, c, true));
    }

    /** The same with another way to write the file (tests inject storage faults with it). */
    HostLease(Path storageRoot, String hostId, String endpoint, HaDir local, Supplier<List<String>> released,
              Runnable afterRenewal, Writer writer) {
        this.directory = LeaseFile.directory(storageRoot);
        this.file = LeaseFile.of(storageRoot, hostId);
        this.tmp = directory.resolve("." + hostId + LeaseFile.SUFFIX + "." + LeaseFile.AGENT + ".tmp");
        this.hostId = hostId;
        this.endpoint = endpoint;
        this.local = local;
        this.released = released;
        this.afterRenewal = afterRenewal;
        this.writer = writer;
    }

    public Path file() {
        return file;
    }

    /** Starts renewing on the {@code ha-lease} thread: now, then every {@link HaTimings#LEASE_RENEW}. */
    public synchronized void start() {
        if (thread != null) {
            return;
        }
        running = true;
        thread = Thread.ofPlatform().daemon().name("ha-lease").start(this::loop);
    }

    /**
     * Stops renewing; waits up to {@code wait} for a renewal in progress. Returns false when the renewal
     * thread is still busy (its storage write hangs); it then ends once the write returns.
     */
    public boolean stop(Duration wait) {
        Thread t;
        synchronized (this) {
            running = false;
            t = thread;
        }
        synchronized (wake) {
            wake.notifyAll();
        }
        if (t == null) {
            return true;
        }
        try {
            t.join(wait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !t.isAlive();
    }

    private void loop() {
        long period = HaTimings.LEASE_RENEW.toNanos();
        long next = System.nanoTime();
        while (running) {
            try {
                renewOnce();
            } catch (RuntimeException e) {
                LOG.warn("storage lease renewal failed unexpectedly", e);
            }
            next += period;
            long now = System.nanoTime();
            if (next < now) {
                next = now; // a slow renewal: the next one follows at once, no burst to catch up
            }
            synchronized (wake) {
                long left;
                while (running && (left = next - System.nanoTime()) > 0) {
                    try {
                        wake.wait(Math.max(1, left / 1_000_000));
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }
        }
    }

    /** One renewal and one read of all leases; true when the lease was renewed. */
    boolean renewOnce() {
        boolean renewed = write();
        if (renewed) {
            afterRenewal.run();
        }
        readAll();
        return renewed;
    }

    private boolean write() {
        Instant start = Instant.now();
        long base;
        synchronized (this) {
            attemptStarted = start;
            base = counter;
        }
        try {
            Files.createDirectories(directory);
            long next = Math.max(base, Math.max(local.readNumber(local.counter()), ownCounter())) + 1;
            Instant now = Instant.now();
            LeaseFile lease = new LeaseFile(hostId, next, now, LeaseFile.AGENT, released.get(), endpoint);
            writer.write(file, tmp, lease.format());
            synchronized (this) {
                counter = next;
            }
            local.write(local.counter(), next + "\n");
            local.write(local.renewed(), now.toEpochMilli() + "\n");
            succeeded();
            return true;
        } catch (IOException | RuntimeException e) {
            failed(start, e);
            return false;
        } finally {
            synchronized (this) {
                attemptStarted = null;
            }
        }
    }

    /** The counter in this host's lease file; 0 when there is none or it is unreadable. */
    private long ownCounter() {
        try {
            return LeaseFile.parse(Files.readString(file)).counter();
        } catch (IOException | IllegalArgumentException e) {
            return 0; // none yet, or broken: it is overwritten, and the local counter keeps the count
        }
    }

    private void succeeded() {
        Instant was;
        synchronized (this) {
            lastRenewed = Instant.now();
            was = warned ? failingSince : null;
            failingSince = null;
            problem = null;
            warned = false;
        }
        if (was != null) {
            LOG.info("storage lease {} is renewed again (it failed from {})", file, was);
        }
    }

    private void failed(Instant attempt, Exception e) {
        synchronized (this) {
            if (failingSince == null) {
                failingSince = attempt;
            }
            problem = "cannot renew " + file + ": " + e;
        }
        warnOnce();
    }

    /**
     * Logs once that renewals fail or hang; called after failures and periodically by the HA service (a
     * renewal that hangs cannot report itself).
     */
    void warnOnce() {
        Health h = health();
        boolean log;
        synchronized (this) {
            log = !h.ok() && !warned;
            warned |= log;
        }
        if (log) {
            LOG.warn("storage lease of host {} not renewed (failing since {}, last renewal {}): {}; the HA watchdog"
                            + " kills this host's HA VMs after {} s without renewal", hostId, h.failingSince(),
                    h.lastRenewed() == null ? "none" : h.lastRenewed(), h.problem(), HaTimings.SELF_FENCE.toSeconds());
        }
    }

    /** The lease's health now; a renewal that has not returned for {@link #HANG} counts as failing. */
    public synchronized Health health() {
        if (attemptStarted != null && Duration.between(attemptStarted, Instant.now()).compareTo(HANG) > 0) {
            Instant since = failingSince == null || attemptStarted.isBefore(failingSince) ? attemptStarted
                    : failingSince;
            return new Health(lastRenewed, since, "writing " + file + " has not returned for "
                    + Duration.between(attemptStarted, Instant.now()).toSeconds() + " s (the storage hangs?)");
        }
        return new Health(lastRenewed, failingSince, problem);
    }

    /** Every host's lease as last read (this host's included), sorted by host id. */
    public synchronized List<LeaseSeen> leases() {
        return seen;
    }

    /**
     * The other hosts whose leases advanced within {@code maxAge} (by this host's clock; a lease seen for
     * the first time counts from its written time), with their endpoints.
     */
    public synchronized List<IsolationCheck.Peer> freshPeers(Instant now, Duration maxAge) {
        List<IsolationCheck.Peer> out = new ArrayList<>();
        observed.forEach((host, o) -> {
            if (!host.equals(hostId) && o.endpoint() != null
                    && Duration.between(o.advancedAt(), now).compareTo(maxAge) <= 0) {
                out.add(new IsolationCheck.Peer(host, o.endpoint()));
            }
        });
        out.sort(Comparator.comparing(IsolationCheck.Peer::hostId));
        return out;
    }

    private void readAll() {
        List<LeaseFile> leases = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "*" + LeaseFile.SUFFIX)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.startsWith(".")) {
                    continue;
                }
                try {
                    LeaseFile lease = LeaseFile.parse(Files.readString(f));
                    if (!name.equals(lease.hostId() + LeaseFile.SUFFIX)) {
                        throw new IllegalArgumentException("it names host " + lease.hostId());
                    }
                    leases.add(lease);
                    synchronized (this) {
                        brokenLogged.remove(name);
                    }
                } catch (IOException | IllegalArgumentException e) {
                    boolean first;
                    synchronized (this) {
                        first = brokenLogged.add(name);
                    }
                    if (first) {
                        LOG.warn("ignoring lease file {}: {}", f, e.getMessage());
                    }
                }
            }
        } catch (IOException e) {
            boolean first;
            synchronized (this) {
                first = !readWarned;
                readWarned = true;
            }
            if (first) {
                LOG.warn("cannot read the storage leases in {}: {}", directory, e.toString());
            }
            return;
        }
        Instant now = Instant.now();
        synchronized (this) {
            readWarned = false;
            for (LeaseFile l : leases) {
                Observed before = observed.get(l.hostId());
                Instant advanced = before == null ? (l.writtenAt().isAfter(now) ? now : l.writtenAt())
                        : l.counter() != before.counter() ? now : before.advancedAt();
                observed.put(l.hostId(), new Observed(l.counter(), advanced, l.endpoint()));
            }
            Set<String> present = new HashSet<>();
            leases.forEach(l -> present.add(l.hostId()));
            observed.keySet().retainAll(present);
            seen = leases.stream().map(LeaseFile::seen).sorted(Comparator.comparing(LeaseSeen::hostId)).toList();
        }
    }
}
