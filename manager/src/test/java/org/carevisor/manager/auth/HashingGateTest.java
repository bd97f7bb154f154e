package org.carevisor.manager.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.carevisor.manager.api.ApiException;
import org.junit.jupiter.api.Test;

/** Bounded password hashing: permits from heap and cores, a bounded wait, then 503 auth-busy with Retry-After. */
class HashingGateTest {
    private static final long MIB = 1L << 20;

    @Test
    void permitsFollowTheHeapAndTheCores() {
        assertThat(HashingGate.permitsFor(256 * MIB, 2)).isEqualTo(2); // the manager's -Xmx256m on 2 cores
        assertThat(HashingGate.permitsFor(256 * MIB, 64)).isEqualTo(3); // many cores: the heap decides (64 MiB / 20)
        assertThat(HashingGate.permitsFor(4096 * MIB, 8)).isEqualTo(8); // a big heap: the cores decide
        assertThat(HashingGate.permitsFor(32 * MIB, 16)).isEqualTo(1); // never none
        assertThat(HashingGate.permitsFor(1L << 40, 1024)).isEqualTo(HashingGate.MAX_PERMITS);
    }

    @Test
    void neverMoreHashesAtOnceThanPermits() throws Exception {
        HashingGate gate = new HashingGate(2, Duration.ofSeconds(30));
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            threads.add(Thread.ofVirtual().start(() -> gate.run(() -> {
                most.accumulateAndGet(inside.incrementAndGet(), Math::max);
                argon2(); // the real work of a real hash
                inside.decrementAndGet();
                return null;
            })));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertThat(most.get()).isBetween(1, 2);
        assertThat(gate.completed()).isEqualTo(12);
    }

    private static void argon2() {
        org.bouncycastle.crypto.generators.Argon2BytesGenerator g =
                new org.bouncycastle.crypto.generators.Argon2BytesGenerator();
        g.init(new org.bouncycastle.crypto.params.Argon2Parameters.Builder(
                org.bouncycastle.crypto.params.Argon2Parameters.ARGON2_id).withMemoryAsKB(PasswordHasher.MEMORY_KIB)
                .withIterations(2).withParallelism(1).withSalt(new byte[16]).build());
        g.generateBytes("password".getBytes(java.nio.charset.StandardCharsets.UTF_8), new byte[32]);
    }

    @Test
    void aCallerWaitsABoundedTimeThenGetsBusyWithRetryAfter() throws Exception {
        HashingGate gate = new HashingGate(1, Duration.ofMillis(200));
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread holder = Thread.ofVirtual().start(() -> gate.run(() -> {
            holding.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return null;
        }));
        holding.await();
        assertThatThrownBy(() -> gate.run(() -> "never")).isInstanceOfSatisfying(ApiException.class, e -> {
            assertThat(e.status()).isEqualTo(503);
            assertThat(e.code()).isEqualTo("auth-busy");
            assertThat(e.retryAfterSeconds()).isPositive();
        });
        assertThat(gate.refused()).isEqualTo(1);
        release.countDown();
        holder.join();
        assertThat(gate.run(() -> "free again")).isEqualTo("free again");
    }

    @Test
    void theJvmGateHashesAndVerifies() {
        String h = PasswordHasher.hash("correct horse battery");
        assertThat(PasswordHasher.verify("correct horse battery", h)).isTrue();
        assertThat(PasswordHasher.verify("wrong horse battery", h)).isFalse();
        // a stored hash asking for more memory than the gate is sized for is refused, not computed
        String greedy = h.replace("m=" + PasswordHasher.MEMORY_KIB, "m=" + (PasswordHasher.MEMORY_KIB * 64));
        long before = PasswordHasher.gate().completed();
        assertThat(PasswordHasher.verify("correct horse battery", greedy)).isFalse();
        assertThat(PasswordHasher.gate().completed()).isEqualTo(before);
    }
}
