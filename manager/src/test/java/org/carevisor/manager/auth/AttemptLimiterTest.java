package org.carevisor.manager.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** The token buckets of password attempts: burst, refill, give-back, episodes, the bound on keys. */
class AttemptLimiterTest {
    private static final long SECOND = 1_000_000_000L;
    private final AtomicLong clock = new AtomicLong(42 * SECOND);
    private final AttemptLimiter limiter = new AttemptLimiter(100, clock::get);

    @Test
    void aBurstOfPerMinuteThenOneEveryInterval() {
        for (int i = 0; i < 6; i++) {
            assertThat(limiter.take("10.0.0.1", 6)).as("attempt %d", i + 1).isEmpty();
        }
        Optional<AttemptLimiter.Refusal> r = limiter.take("10.0.0.1", 6);
        assertThat(r).isPresent();
        assertThat(r.get().retryAfterSeconds()).isEqualTo(10); // 6 a minute: one every 10 s
        assertThat(r.get().episodeStarted()).isTrue();
        clock.addAndGet(9 * SECOND);
        assertThat(limiter.take("10.0.0.1", 6).get().retryAfterSeconds()).isEqualTo(1);
        clock.addAndGet(SECOND);
        assertThat(limiter.take("10.0.0.1", 6)).isEmpty();
        assertThat(limiter.take("10.0.0.1", 6)).isPresent();
        // another key has its own bucket
        assertThat(limiter.take("10.0.0.2", 6)).isEmpty();
    }

    @Test
    void rightPasswordsGiveTheirTokenBack() {
        for (int i = 0; i < 100; i++) {
            assertThat(limiter.take("alice", 3)).isEmpty();
            limiter.giveBack("alice", 3);
        }
        assertThat(limiter.take("alice", 3)).isEmpty();
        assertThat(limiter.take("alice", 3)).isEmpty();
        assertThat(limiter.take("alice", 3)).isEmpty();
        assertThat(limiter.take("alice", 3)).isPresent();
    }

    @Test
    void oneEpisodePerRunOfRefusalsEndingWhenTheBucketIsFullAgain() {
        limiter.take("bob", 2);
        limiter.take("bob", 2);
        List<Boolean> started = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            started.add(limiter.take("bob", 2).orElseThrow().episodeStarted());
        }
        assertThat(started.stream().filter(b -> b).count()).isEqualTo(1);
        assertThat(started.get(0)).isTrue();
        assertThat(limiter.sweep(2)).isEmpty(); // still empty: the episode goes on
        clock.addAndGet(60 * SECOND); // full again
        List<AttemptLimiter.Episode> ended = limiter.sweep(2);
        assertThat(ended).containsExactly(new AttemptLimiter.Episode("bob", 50));
        assertThat(limiter.size()).isZero();
        // a new run of refusals is a new episode
        limiter.take("bob", 2);
        limiter.take("bob", 2);
        assertThat(limiter.take("bob", 2).orElseThrow().episodeStarted()).isTrue();
    }

    @Test
    void keysAreBoundedNewOnesShareTheOverflowBucket() {
        for (int i = 0; i < 100; i++) {
            limiter.take("addr-" + i, 5);
        }
        assertThat(limiter.size()).isEqualTo(100);
        for (int i = 0; i < 5; i++) {
            assertThat(limiter.take("new-" + i, 5)).isEmpty();
        }
        Optional<AttemptLimiter.Refusal> r = limiter.take("yet-another", 5);
        assertThat(r).isPresent();
        assertThat(r.get().key()).isEqualTo(AttemptLimiter.OVERFLOW);
        assertThat(limiter.size()).isEqualTo(101);
        // once the old keys are full again they are forgotten and new keys get their own bucket
        clock.addAndGet(60 * SECOND);
        assertThat(limiter.take("fresh", 5)).isEmpty();
        assertThat(limiter.size()).isLessThanOrEqualTo(2);
    }

    @Test
    void parallelAttemptsTakeExactlyTheBurst() throws Exception {
        int threads = 32;
        AtomicInteger admitted = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> all = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            all.add(Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int k = 0; k < 10; k++) {
                    if (limiter.take("storm", 25).isEmpty()) {
                        admitted.incrementAndGet();
                    }
                }
            }));
        }
        go.countDown();
        for (Thread t : all) {
            t.join();
        }
        assertThat(admitted.get()).isEqualTo(25); // the clock stands still: exactly the burst
    }

    @Property
    void neverMoreAdmittedThanBurstPlusRefill(@ForAll @IntRange(min = 1, max = 120) int perMinute,
                                              @ForAll @IntRange(min = 0, max = 600) int seconds,
                                              @ForAll @IntRange(min = 1, max = 400) int attempts) {
        AtomicLong t = new AtomicLong();
        AttemptLimiter l = new AttemptLimiter(10, t::get);
        int admitted = 0;
        for (int i = 0; i < attempts; i++) {
            t.set((long) seconds * SECOND * i / attempts);
            if (l.take("k", perMinute).isEmpty()) {
                admitted++;
            }
        }
        long bound = perMinute + (long) Math.floor(seconds * perMinute / 60.0) + 1;
        assertThat(admitted).isLessThanOrEqualTo((int) bound);
        assertThat(admitted).isGreaterThanOrEqualTo(Math.min(attempts, perMinute));
    }
}
