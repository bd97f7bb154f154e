package org.carevisor.testkit;

import java.time.Duration;
import java.util.function.Supplier;

/** Waits for a condition in tests, with a message that says what did not happen. */
public final class Poll {
    private Poll() {
    }

    /** Polls every 100 ms until {@code condition} returns a non-null value; returns it or fails after {@code limit}. */
    public static <T> T until(Duration limit, String what, Supplier<T> condition) {
        return until(limit, Duration.ofMillis(100), what, condition);
    }

    /** Polls every {@code every} until {@code condition} returns a non-null value (not false). */
    public static <T> T until(Duration limit, Duration every, String what, Supplier<T> condition) {
        long deadline = System.nanoTime() + limit.toNanos();
        RuntimeException last = null;
        while (System.nanoTime() < deadline) {
            try {
                T value = condition.get();
                if (value != null && !Boolean.FALSE.equals(value)) {
                    return value;
                }
            } catch (RuntimeException e) {
                last = e;
            }
            sleep(every.toMillis());
        }
        throw new AssertionError("timed out after " + limit.toMillis() + " ms waiting for: " + what
                + (last == null ? "" : " (last error: " + last + ")"), last);
    }

    public static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
