package org.carevisor.agent.ha;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.PrivateKey;
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
import org.carevisor.protocol.SignedLease;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This host's storage lease: every {@link HaTimings#LEASE_RENEW} it writes a {@link SignedLease}, signed with the
 * host's key, to {@link LeaseFile} {@code <storageRoot>/.carevisor/leases/<hostId>.lease} durably and atomically
 * (temporary file in the same directory, fsync, rename), then writes the time into the local stamp {@link
 * HaDir#renewed()} that the watchdog watches, and reads every host's lease for the report and for the isolation
 * check. The report carries this host's own lease as last <i>written</i> (not as read back), so nobody who can
 * write the storage can put an older one of this host into its own report.
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
 * <p>Before each renewal it reads its own lease file back: when it is gone, is no lease of this host, or holds a
 * lower counter than this process wrote in the previous renewal (that succeeded), someone else replaced it (a host with write access to the shared
 * storage hiding this host's renewals from its peers). That renewal is then not counted (no stamp): if it goes on
 * for {@link HaTimings#SELF_FENCE}, the watchdog kills the HA VMs, so a lease the peers cannot see renewed always
 * means HA VMs that are stopped - which is what the manager assumes when it restarts them elsewhere.
 *
 * <p>Renewals run on their own thread ({@code ha-lease}), so a storage write that hangs blocks nothing else:
 * the stamp is then not written, the watchdog fires, and {@link #health()} reports the hang. Thread-safe.
 */
public final class HostLease {
    private static final Logger LOG = LoggerFactory.getLogger(HostLease.class);
    /** A renewal attempt still running after this long counts as failing (the storage hangs). */
    static final Duration HANG = HaTimings.LEASE_RENEW.multipliedBy(2);
    /**
     * Most peer leases read and reported (with this host's own, the manager's limit of a report), and most lease text
     * in a report: a storage full of files put there by someone else can neither get this host's reports refused
     * nor slow its renewals.
     */
    static final int MAX_PEERS = 255;
    static final int MAX_REPORTED_TEXT = 384 * 1024;
    private static final java.util.regex.Pattern UUID = java.util.regex.Pattern.compile(
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    /** Writes a lease file durably ({@link LeaseFile#write}: in place, or into {@code tmp} and renamed). */
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
    private final Supplier<List<SignedLease.Released>> released;
    private final PrivateKey key;
    private final Supplier<List<String>> peers;
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
    private boolean tamperWarned;
    private String lastWritten;
    private boolean lastWriteFailed;
    private List<LeaseSeen> seen = List.of();
    private final Map<String, Observed> observed = new HashMap<>();
    private final Set<String> brokenLogged = new HashSet<>();

    /**
     * The lease of {@code hostId} on the storage at {@code storageRoot}.
     *
     * @param endpoint     this agent's API endpoint, written into the lease for peers
     * @param local        the agent's HA directory (stamp and counter)
     * @param key          the host's private key (of its agent certificate): every lease is signed with it
     * @param released     VMs (with their stopped run) to list as released, asked at every renewal
     * @param peers        the other hosts of the cluster as the manager last named them (empty: unknown), whose
     *                     leases are read; when unknown, every lease file of the directory, bounded
     * @param afterRenewal called on the lease thread after each successful renewal
     */
    public HostLease(Path storageRoot, String hostId, String endpoint, HaDir local, PrivateKey key,
                     Supplier<List<SignedLease.Released>> released, Supplier<List<String>> peers,
                     Runnable afterRenewal) {
        this(storageRoot, hostId, endpoint, local, key, released, peers, afterRenewal,
                LeaseFile::write);
    }

    /** The same with another way to write the file (tests inject storage faults with it). */
    HostLease(Path storageRoot, String hostId, String endpoint, HaDir local, PrivateKey key,
              Supplier<List<SignedLease.Released>> released, Supplier<List<String>> peers, Runnable afterRenewal,
              Writer writer) {
        this.directory = LeaseFile.directory(storageRoot);
        this.file = LeaseFile.of(storageRoot, hostId);
        this.tmp = directory.resolve("." + hostId + LeaseFile.SUFFIX + "." + LeaseFile.AGENT + ".tmp");
        this.hostId = hostId;
        this.endpoint = endpoint;
        this.local = local;
        this.released = released;
        this.key = key;
        this.peers = peers;
        this.afterRenewal = afterRenewal;
        this.writer = writer;
    }

    public Path file() {
        return file;
    }

    public String hostId() {
        return hostId;
    }

    public String endpoint() {
        return endpoint;
    }

    /** The last counter written by this host (this process, or the local counter an earlier one or the keeper left). */
    public synchronized long counter() {
        return Math.max(counter, local.readNumber(local.counter()));
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

    /**
     * The lease files of the peers: those the manager named, or (when it named none) the directory's files named
     * {@code <uuid>.lease}, the first {@link #MAX_PEERS} by name; never this host's own.
     */
    private List<Path> peerFiles() throws IOException {
        List<String> named = peers.get();
        List<String> ids = new ArrayList<>();
        if (!named.isEmpty()) {
            named.stream().filter(p -> UUID.matcher(p).matches() && !p.equals(hostId)).sorted().distinct()
                    .limit(MAX_PEERS).forEach(ids::add);
        } else {
            List<String> found = new ArrayList<>();
            try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "*" + LeaseFile.SUFFIX)) {
                for (Path f : files) {
                    String name = f.getFileName().toString();
                    String id = name.substring(0, name.length() - LeaseFile.SUFFIX.length());
                    if (UUID.matcher(id).matches() && !id.equals(hostId) && found.size() < 16 * MAX_PEERS) {
                        found.add(id);
                    }
                }
            }
            found.stream().sorted().limit(MAX_PEERS).forEach(ids::add);
        }
        return ids.stream().map(id -> directory.resolve(id + LeaseFile.SUFFIX)).toList();
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
        String written;
        synchronized (this) {
            attemptStarted = start;
            base = counter;
            // compared with what the previous renewal wrote, when it wrote (after a storage failure the file may
            // well be gone or old)
            written = lastWriteFailed ? null : lastWritten;
        }
        try {
            Files.createDirectories(directory);
            OwnFile found = readOwn();
            String replaced = written == null ? null : replacedBy(found, base);
            long next = Math.max(base, Math.max(local.readNumber(local.counter()), found.counter())) + 1;
            Instant now = Instant.now();
            String text = new SignedLease(hostId, next, now, LeaseFile.AGENT, released.get(), endpoint).sign(key);
            writer.write(file, tmp, text);
            synchronized (this) {
                counter = next;
                lastWritten = text;
                lastWriteFailed = false;
            }
            local.write(local.counter(), next + "\n");
            if (replaced != null) {
                tampered(start, replaced);
                return false;
            }
            local.write(local.renewed(), now.toEpochMilli() + "\n");
            succeeded();
            return true;
        } catch (IOException | RuntimeException e) {
            synchronized (this) {
                lastWriteFailed = true;
            }
            failed(start, e);
            return false;
        } finally {
            synchronized (this) {
                attemptStarted = null;
            }
        }
    }

    /** This host's lease file as found before a renewal. */
    private record OwnFile(boolean present, SignedLease lease, String problem) {
        long counter() {
            return lease == null ? 0 : lease.counter();
        }
    }

    private OwnFile readOwn() throws IOException {
        try {
            SignedLease l = SignedLease.parse(LeaseFile.read(file));
            return l.hostId().equals(hostId) ? new OwnFile(true, l, null)
                    : new OwnFile(true, null, "it names host " + l.hostId());
        } catch (NoSuchFileException e) {
            return new OwnFile(false, null, "it is gone");
        } catch (IllegalArgumentException e) {
            return new OwnFile(true, null, "it is no lease (" + e.getMessage() + ")");
        } catch (IOException e) {
            if (Files.isRegularFile(file)) {
                return new OwnFile(true, null, "it cannot be read as a lease (" + e.getMessage() + ")");
            }
            throw e; // the storage fails: a failed renewal as any other
        }
    }

    /** Why the lease file is not what this process wrote last (counter {@code mine}), or null when it is. */
    private static String replacedBy(OwnFile found, long mine) {
        if (found.lease() == null) {
            return found.problem();
        }
        return found.lease().counter() < mine ? "it holds counter " + found.lease().counter() + ", below " + mine
                + " that this host wrote" : null;
    }

    private void tampered(Instant attempt, String what) {
        boolean log;
        synchronized (this) {
            if (failingSince == null) {
                failingSince = attempt;
            }
            problem = "the lease file " + file + " was replaced by another writer (" + what + ")";
            log = !tamperWarned;
            tamperWarned = true;
            warned = true;
        }
        if (log) {
            LOG.warn("storage lease file {} was replaced by another writer: {}. Someone with write access to the shared"
                    + " storage hides this host's renewals from its peers; such renewals do not count, and the HA"
                    + " watchdog kills this host's HA VMs when it goes on for {} s", file, what,
                    HaTimings.SELF_FENCE.toSeconds());
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
            tamperWarned = false;
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

    /**
     * Every host's lease as last read, sorted by host id; this host's own as this process last wrote it (before its
     * first renewal: none).
     */
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
        List<LeaseSeen> read = new ArrayList<>();
        List<SignedLease> leases = new ArrayList<>();
        List<Path> files;
        try {
            files = peerFiles();
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
        int budget = MAX_REPORTED_TEXT;
        for (Path f : files) {
            String name = f.getFileName().toString();
            try {
                String text = LeaseFile.read(f);
                SignedLease lease = SignedLease.parse(text);
                if (!name.equals(lease.hostId() + LeaseFile.SUFFIX)) {
                    throw new IllegalArgumentException("it names host " + lease.hostId());
                }
                if (lease.writer().length() > 16 || lease.releasedIds().stream().anyMatch(id -> !UUID.matcher(id)
                        .matches())) {
                    throw new IllegalArgumentException("its writer or released VMs are no agent's");
                }
                if (text.length() > budget) {
                    throw new IllegalArgumentException("the leases read so far fill a report");
                }
                budget -= text.length();
                leases.add(lease);
                read.add(lease.seen(text));
                synchronized (this) {
                    brokenLogged.remove(name);
                }
            } catch (NoSuchFileException e) {
                // a peer that has not written its lease (yet)
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
        Instant now = Instant.now();
        synchronized (this) {
            readWarned = false;
            for (SignedLease l : leases) {
                Observed before = observed.get(l.hostId());
                Instant advanced = before == null ? (l.writtenAt().isAfter(now) ? now : l.writtenAt())
                        : l.counter() != before.counter() ? now : before.advancedAt();
                observed.put(l.hostId(), new Observed(l.counter(), advanced, l.endpoint()));
            }
            Set<String> present = new HashSet<>();
            leases.forEach(l -> present.add(l.hostId()));
            observed.keySet().retainAll(present);
            if (lastWritten != null) {
                read.add(SignedLease.parse(lastWritten).seen(lastWritten));
            }
            seen = read.stream().sorted(Comparator.comparing(LeaseSeen::hostId)).toList();
        }
    }
}
