package org.carevisor.agent.vm;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The two timers of a graceful shutdown: the ACPI power button is pressed again every {@link #REPEAT}
 * (a press during early boot, before the guest's button driver is loaded, is lost), and the VM is powered
 * off at the deadline. The callbacks check themselves whether the shutdown is still going on. Thread-safe.
 */
final class StopTimers {
    static final Duration REPEAT = Duration.ofSeconds(2);

    private final ScheduledExecutorService scheduler;
    private ScheduledFuture<?> deadline;
    private ScheduledFuture<?> repeat;

    StopTimers(ScheduledExecutorService scheduler) {
        this.scheduler = scheduler;
    }

    /** (Re)arms both timers. */
    synchronized void arm(Instant at, Runnable pressAgain, Runnable powerOff) {
        cancel();
        repeat = scheduler.scheduleWithFixedDelay(pressAgain, REPEAT.toMillis(), REPEAT.toMillis(),
                TimeUnit.MILLISECONDS);
        deadline = scheduler.schedule(powerOff, Math.max(0, Duration.between(Instant.now(), at).toMillis()),
                TimeUnit.MILLISECONDS);
    }

    synchronized void cancel() {
        if (repeat != null) {
            repeat.cancel(false);
            repeat = null;
        }
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
    }
}
