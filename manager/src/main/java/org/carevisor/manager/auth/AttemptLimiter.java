package org.carevisor.manager.auth;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * Token buckets per key (a client address or a user name) for password attempts: a key may make
 * {@code perMinute} attempts in a burst, and one more every {@code 60 / perMinute} seconds. An attempt takes
 * a token before the password is checked and gives it back when the password was right, so only failed
 * attempts count, exactly, even when many run at once. A refusal starts an <em>episode</em> of the key (reported
 * once, so the audit trail gets one record per episode, not one per refused attempt); the episode ends when the
 * bucket is full again. The number of keys is bounded: beyond {@code maxKeys} every new key shares one overflow
 * bucket. Thread-safe (one lock; every operation is a few arithmetic steps).
 */
public final class AttemptLimiter {
    /** The key that every new key shares when the limiter holds {@code maxKeys} keys. */
    public static final String OVERFLOW = "(overflow)";

    /** A refused attempt: when one token is back, and whether this refusal opened the key's episode. */
    public record Refusal(String key, long retryAfterSeconds, boolean episodeStarted) {
    }

    /** An episode that ended: its key and how many attempts it refused. */
    public record Episode(String key, long refused) {
    }

    private static final class Bucket {
        double tokens;
        long updatedNanos;
        boolean episode;
        long refused;
    }

    private final Map<String, Bucket> buckets = new LinkedHashMap<>();
    private final List<Episode> ended = new ArrayList<>();
    private final int maxKeys;
    private final LongSupplier nanos;

    /** {@code nanos}: a monotonic clock ({@code System::nanoTime}; tests pass their own). */
    public AttemptLimiter(int maxKeys, LongSupplier nanos) {
        this.maxKeys = maxKeys;
        this.nanos = nanos;
    }

    /**
     * Takes one attempt for {@code key} with a limit of {@code perMinute}; empty when admitted (the token is taken),
     * else the refusal.
     */
    public synchronized Optional<Refusal> take(String key, int perMinute) {
        long now = nanos.getAsLong();
        String k = key;
        Bucket b = buckets.get(k);
        if (b == null) {
            if (buckets.size() >= maxKeys) {
                evictFull(now, perMinute);
            }
            if (buckets.size() >= maxKeys) {
                k = OVERFLOW;
                b = buckets.get(k);
            }
            if (b == null) {
                b = new Bucket();
                b.tokens = perMinute;
                b.updatedNanos = now;
                buckets.put(k, b);
            }
        }
        refill(k, b, now, perMinute);
        if (b.tokens >= 1) {
            b.tokens -= 1;
            return Optional.empty();
        }
        boolean started = !b.episode;
        b.episode = true;
        b.refused++;
        double perSecond = perMinute / 60.0;
        long wait = (long) Math.ceil((1 - b.tokens) / perSecond);
        return Optional.of(new Refusal(k, Math.max(1, wait), started));
    }

    /** Gives back the token of an attempt that succeeded (or was not a guess). */
    public synchronized void giveBack(String key, int perMinute) {
        Bucket b = buckets.get(key);
        if (b == null) {
            b = buckets.get(OVERFLOW);
        }
        if (b != null) {
            b.tokens = Math.min(perMinute, b.tokens + 1);
        }
    }

    /** Forgets keys whose bucket is full again; returns the episodes that ended since the last sweep. */
    public synchronized List<Episode> sweep(int perMinute) {
        evictFull(nanos.getAsLong(), perMinute);
        List<Episode> out = List.copyOf(ended);
        ended.clear();
        return out;
    }

    /** Keys held (for tests). */
    public synchronized int size() {
        return buckets.size();
    }

    private void evictFull(long now, int perMinute) {
        for (Iterator<Map.Entry<String, Bucket>> it = buckets.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Bucket> e = it.next();
            refill(e.getKey(), e.getValue(), now, perMinute);
            if (e.getValue().tokens >= perMinute) {
                it.remove();
            }
        }
    }

    /** Adds the tokens earned since the last update; a bucket full again ends its episode. */
    private void refill(String key, Bucket b, long now, int perMinute) {
        double perNano = perMinute / 60e9;
        b.tokens = Math.min(perMinute, b.tokens + Math.max(0, now - b.updatedNanos) * perNano);
        b.updatedNanos = now;
        if (b.tokens >= perMinute && b.episode) {
            if (ended.size() < 10_000) {
                ended.add(new Episode(key, b.refused));
            }
            b.episode = false;
            b.refused = 0;
        }
    }
}
