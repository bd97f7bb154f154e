package org.carevisor.agent.storage;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * The size and free space of a storage, read by a daemon thread of its own once a {@code period}, so a report never
 * waits for a storage that hangs: a {@code statfs} on an unreachable SAN, NFS or FUSE storage blocks until it answers
 * (uninterruptibly), and a report that waited with it would make the host look dead to the manager while its
 * VMs may still run. At most one read is outstanding, so a hanging storage costs one thread. Thread-safe.
 */
public final class SpaceGauge implements AutoCloseable {
    /** A storage that has not answered for this long is reported as not answering. */
    public static final Duration SLOW = Duration.ofSeconds(5);

    /** One reading: total and usable bytes (0 when the storage could not be read), taken at {@code atMillis}. */
    public record Reading(long total, long usable, long atMillis) {
    }

    private final Path root;
    private final Duration period;
    private final LongSupplier clock;
    private final Thread thread;
    private volatile Reading last;
    /** When the read now running began, or -1 when none runs. */
    private volatile long asking = -1;
    private volatile boolean closed;

    /** Reads {@code root} once now (so the first report has figures) and then every {@code period}. */
    public SpaceGauge(Path root, Duration period) {
        this(root, period, System::currentTimeMillis);
    }

    SpaceGauge(Path root, Duration period, LongSupplier clock) {
        this.root = root;
        this.period = period;
        this.clock = clock;
        this.last = new Reading(0, 0, clock.getAsLong());
        this.thread = Thread.ofPlatform().daemon().name("space-gauge").unstarted(this::loop);
        thread.start();
    }

    private void loop() {
        while (!closed) {
            asking = clock.getAsLong();
            last = read();
            asking = -1;
            try {
                Thread.sleep(period.toMillis());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private Reading read() {
        try {
            FileStore store = Files.getFileStore(root);
            return new Reading(store.getTotalSpace(), store.getUsableSpace(), clock.getAsLong());
        } catch (IOException e) {
            return new Reading(0, 0, clock.getAsLong());
        }
    }

    /** The last reading; never waits. */
    public Reading last() {
        return last;
    }

    /** How long the read now running has waited (zero when none runs). */
    public Duration waiting() {
        long since = asking;
        return since < 0 ? Duration.ZERO : Duration.ofMillis(Math.max(0, clock.getAsLong() - since));
    }

    /** A warning for the host's report when the storage has not answered for {@link #SLOW} or longer. */
    public Optional<String> warning() {
        return warning(root, waiting());
    }

    static Optional<String> warning(Path root, Duration waited) {
        if (waited.compareTo(SLOW) < 0) {
            return Optional.empty();
        }
        return Optional.of("the storage " + root + " has not answered for " + waited.toSeconds() + " s (an unreachable"
                + " SAN or NFS server?): disk I/O and lease renewals wait until it answers");
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
