package org.carevisor.manager.auth;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.carevisor.manager.api.ApiException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds how many password hashes (Argon2, ~19 MiB of heap each) run at once in this JVM: a fixed number of
 * permits derived from the heap the JVM may use and its cores ({@link #permitsFor}). A caller waits at most a
 * bounded time for a permit, then gets 503 {@code auth-busy} with a Retry-After; the hash itself runs on one of
 * the gate's own platform threads, so CPU-bound hashing never occupies the carrier threads that every virtual
 * request thread needs. Thread-safe.
 */
public final class HashingGate {
    private static final Logger LOG = LoggerFactory.getLogger(HashingGate.class);
    /** Heap one Argon2 hash with the current parameters needs: 19 MiB of blocks plus working space. */
    static final long HASH_BYTES = 20L << 20;
    /** Share of the maximum heap that hashing may take at once. */
    static final double HEAP_SHARE = 0.25;
    /** Upper bound on permits, whatever the machine. */
    static final int MAX_PERMITS = 32;

    private final int permits;
    private final Semaphore semaphore;
    private final Duration maxWait;
    private final ExecutorService threads;
    private final AtomicLong completed = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();

    public HashingGate(int permits, Duration maxWait) {
        if (permits < 1) {
            throw new IllegalArgumentException("permits must be at least 1");
        }
        this.permits = permits;
        this.semaphore = new Semaphore(permits, true);
        this.maxWait = maxWait;
        this.threads = Executors.newFixedThreadPool(permits, Thread.ofPlatform().daemon().name("password-hash-", 0)
                .factory());
    }

    /** The gate sized for this JVM: {@link #permitsFor} of its maximum heap and available cores; waits up to 3 s. */
    public static HashingGate forThisJvm() {
        Runtime rt = Runtime.getRuntime();
        int permits = permitsFor(rt.maxMemory(), rt.availableProcessors());
        LOG.info("password hashing: at most {} at once (max heap {} MiB, {} cores)", permits, rt.maxMemory() >> 20,
                rt.availableProcessors());
        return new HashingGate(permits, Duration.ofSeconds(3));
    }

    /**
     * How many hashes may run at once: no more than the cores (hashing is CPU-bound), no more than a quarter of
     * the maximum heap holds ({@link #HASH_BYTES} each), at least one, at most {@link #MAX_PERMITS}.
     */
    static int permitsFor(long maxHeapBytes, int cores) {
        long byHeap = (long) (maxHeapBytes * HEAP_SHARE) / HASH_BYTES;
        long p = Math.min(byHeap, cores);
        return (int) Math.max(1, Math.min(MAX_PERMITS, p));
    }

    public int permits() {
        return permits;
    }

    /** Hashes run through this gate, whatever their result (for tests and metrics). */
    public long completed() {
        return completed.get();
    }

    /** Callers turned away because no permit became free in time. */
    public long refused() {
        return refused.get();
    }

    /**
     * Runs {@code hash} with a permit, waiting at most the gate's bound for one; 503 {@code auth-busy} (with
     * Retry-After) when none became free.
     */
    public <T> T run(Supplier<T> hash) {
        boolean got;
        try {
            got = semaphore.tryAcquire(maxWait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw busy();
        }
        if (!got) {
            long n = refused.incrementAndGet();
            if (n == 1 || n % 100 == 0) {
                LOG.warn("password checks are busy: {} caller(s) turned away so far after waiting {} ms ({} at once)",
                        n, maxWait.toMillis(), permits);
            }
            throw busy();
        }
        try {
            Future<T> f = threads.submit(hash::get);
            try {
                return f.get();
            } catch (InterruptedException e) {
                // the hash finishes on its pool thread (the pool has as many threads as permits, so at most that
                // many hashes ever run); only this caller stops waiting for it
                Thread.currentThread().interrupt();
                throw busy();
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                if (e.getCause() instanceof Error err) {
                    throw err;
                }
                throw new IllegalStateException(e.getCause());
            }
        } finally {
            completed.incrementAndGet();
            semaphore.release();
        }
    }

    private static ApiException busy() {
        return new ApiException(503, "auth-busy", "Too many password checks at once", "the manager is checking"
                + " too many passwords at once; try again in a moment", null).retryAfter(2);
    }
}
