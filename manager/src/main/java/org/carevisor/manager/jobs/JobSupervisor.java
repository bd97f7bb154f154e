package org.carevisor.manager.jobs;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs every periodic job of the manager (HA evaluation, audit checkpoints, the reconcile loop, the balancer,
 * migration recovery, ...), each on its own daemon thread with a fixed delay between passes (or sooner when
 * {@link Job#kick kicked}). A pass that throws anything - an {@link Error} included - is logged and the
 * schedule goes on; nothing a pass does can end its thread. A watchdog raises an <em>alarm</em> for a job that
 * failed {@code failuresForAlarm} passes in a row, or that has not finished a pass for {@code stallPeriods}
 * periods (at least {@code minStall}; a pass that hangs): the job is shown in alarm by {@link #status} (so
 * {@code GET /api/v1/health} answers {@code degraded} and names it), logged with the hung thread's stack, and
 * audited once per episode ({@code manager.job.alarm}); its next good pass clears the alarm
 * ({@code manager.job.recovered}). A hung pass is not run twice at once: the job waits for it. Thread-safe.
 */
public final class JobSupervisor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JobSupervisor.class);
    private static final Actor ACTOR = Actor.system("supervisor");

    /** One pass of a job. */
    @FunctionalInterface
    public interface Pass {
        void run() throws Exception;
    }

    /**
     * What a job is doing. {@code state}: {@code ok}, {@code failing} (alarm: failed passes in a row) or
     * {@code stalled} (alarm: no pass finished for too long); {@code alarm} says why, null when none.
     */
    public record Status(String name, String state, double periodSeconds, long passes, long failures,
                         int failuresInARow, Instant lastPassAt, Instant lastFailureAt, String lastError,
                         Instant runningSince, String alarm) {
    }

    /** A scheduled job. */
    public final class Job {
        private final String name;
        private final Supplier<Duration> period;
        private final Duration initialDelay;
        private final Pass pass;
        private final Semaphore wake = new Semaphore(0);
        private final Instant scheduledAt = Instant.now();
        private volatile Thread thread;
        private volatile long passes;
        private volatile long failures;
        private volatile int failuresInARow;
        private volatile Instant lastPassAt;
        private volatile Instant lastFailureAt;
        private volatile Instant lastEndAt;
        private volatile Throwable lastError;
        private volatile Instant runningSince;
        /** The alarm raised by the watchdog (null: none) and whether it is in the audit trail yet. */
        private String alarm;
        private String alarmState;
        private boolean alarmAudited;

        private Job(String name, Supplier<Duration> period, Duration initialDelay, Pass pass) {
            this.name = name;
            this.period = period;
            this.initialDelay = initialDelay;
            this.pass = pass;
        }

        public String name() {
            return name;
        }

        /** Runs a pass soon (at once when none runs; after the running one otherwise). */
        public void kick() {
            wake.release();
        }

        private Duration period() {
            try {
                Duration d = period.get();
                return d == null || d.isNegative() || d.isZero() ? Duration.ofSeconds(1) : d;
            } catch (RuntimeException e) {
                return Duration.ofSeconds(1);
            }
        }

        private void loop() {
            long delay = initialDelay.toMillis();
            while (!closed) {
                try {
                    wake.tryAcquire(delay, TimeUnit.MILLISECONDS);
                    wake.drainPermits();
                    if (closed) {
                        return;
                    }
                    runOnce();
                } catch (InterruptedException e) {
                    if (closed) {
                        return;
                    }
                } catch (Throwable t) {
                    // only the bookkeeping itself can get here (a pass's own failures are caught in runOnce)
                    safeLog("job " + name + ": the supervisor loop caught " + t, null);
                }
                Thread.interrupted(); // a pass that left its interrupt flag set does not end the schedule
                delay = period().toMillis();
            }
        }

        private void runOnce() {
            runningSince = Instant.now();
            try {
                pass.run();
                passes++;
                lastPassAt = Instant.now();
                failuresInARow = 0;
                lastError = null;
            } catch (Throwable t) {
                if (closed) {
                    return;
                }
                failures++;
                failuresInARow++;
                lastFailureAt = Instant.now();
                lastError = t;
                // the stack once at the start of a run of failures, then a line per failure
                safeLog("job " + name + ": pass failed (" + failuresInARow + " in a row): " + t,
                        failuresInARow == 1 ? t : null);
            } finally {
                runningSince = null;
                lastEndAt = Instant.now();
            }
        }

        private Status status() {
            Instant running = runningSince;
            Throwable err = lastError;
            String a;
            String st;
            synchronized (this) {
                a = alarm;
                st = alarmState;
            }
            return new Status(name, a == null ? "ok" : st, period().toMillis() / 1000.0, passes, failures,
                    failuresInARow, lastPassAt, lastFailureAt, err == null ? null : err.getClass().getName(), running,
                    a);
        }
    }

    private final AuditLog audit;
    private final int failuresForAlarm;
    private final int stallPeriods;
    private final Duration minStall;
    private final List<Job> jobs = new CopyOnWriteArrayList<>();
    private final Thread watchdog;
    private volatile boolean closed;

    /**
     * @param audit            where alarms are recorded (null: only logged)
     * @param failuresForAlarm failed passes in a row that raise an alarm
     * @param stallPeriods     periods without a finished pass that raise an alarm
     * @param minStall         ... but never less than this
     * @param watchEvery       how often the watchdog looks
     */
    public JobSupervisor(AuditLog audit, int failuresForAlarm, int stallPeriods, Duration minStall,
                         Duration watchEvery) {
        this.audit = audit;
        this.failuresForAlarm = failuresForAlarm;
        this.stallPeriods = stallPeriods;
        this.minStall = minStall;
        this.watchdog = Thread.ofPlatform().daemon().name("job-watchdog").start(() -> {
            while (!closed) {
                try {
                    Thread.sleep(watchEvery.toMillis());
                    check();
                } catch (InterruptedException e) {
                    if (closed) {
                        return;
                    }
                } catch (Throwable t) {
                    safeLog("job watchdog: " + t, t);
                }
            }
        });
    }

    /** The manager's supervisor: alarm after 3 failed passes in a row or 5 periods (at least 30 s) without one. */
    public static JobSupervisor forManager(AuditLog audit) {
        return new JobSupervisor(audit, 3, 5, Duration.ofSeconds(30), Duration.ofSeconds(1));
    }

    /**
     * Schedules {@code pass} every {@code period} (read before each wait, so it may change), the first after
     * {@code initialDelay}, on a daemon thread named {@code job-<name>}.
     */
    public Job schedule(String name, Supplier<Duration> period, Duration initialDelay, Pass pass) {
        if (closed) {
            throw new IllegalStateException("the job supervisor is closed");
        }
        if (jobs.stream().anyMatch(j -> j.name.equals(name))) {
            throw new IllegalArgumentException("a job named " + name + " is scheduled already");
        }
        Job j = new Job(name, period, initialDelay, pass);
        jobs.add(j);
        j.thread = Thread.ofPlatform().daemon().name("job-" + name).start(j::loop);
        return j;
    }

    /** Every job's status, in the order they were scheduled. */
    public List<Status> status() {
        return jobs.stream().map(Job::status).toList();
    }

    /** The jobs in alarm. */
    public List<Status> alarms() {
        return status().stream().filter(s -> s.alarm() != null).toList();
    }

    /** One look of the watchdog: raises, audits and clears alarms (runs every {@code watchEvery}). */
    public void check() {
        Instant now = Instant.now();
        for (Job j : jobs) {
            String[] found = evaluate(j, now);
            String why = found == null ? null : found[1];
            boolean raise;
            boolean clear;
            String was;
            synchronized (j) {
                was = j.alarm;
                raise = why != null && (was == null || !j.alarmAudited);
                clear = why == null && was != null;
                if (why != null) {
                    if (was == null) {
                        j.alarmAudited = false;
                    }
                    j.alarm = why;
                    j.alarmState = found[0];
                } else if (clear) {
                    j.alarm = null;
                    j.alarmState = null;
                }
            }
            if (raise && was == null) {
                safeLog("job " + j.name + " is in alarm: " + why + stack(j), null);
            }
            Throwable err = j.lastError;
            if (raise && audit(j, "manager.job.alarm", null, Map.of("state", found[0], "alarm", why),
                    why + (err == null ? "" : " (last error: " + err + ")"), Outcome.FAILURE)) {
                synchronized (j) {
                    j.alarmAudited = true;
                }
            }
            if (clear) {
                boolean audited;
                synchronized (j) {
                    audited = j.alarmAudited;
                    j.alarmAudited = false;
                }
                LOG.warn("job {} recovered: {} passes so far", j.name, j.passes);
                if (audited) {
                    audit(j, "manager.job.recovered", Map.of("alarm", was), Map.of("state", "ok"),
                            "a pass finished again", Outcome.SUCCESS);
                }
            }
        }
    }

    /** {state, why} of the job's alarm, or null when it has none. */
    private String[] evaluate(Job j, Instant now) {
        Duration period = j.period();
        Duration stall = period.multipliedBy(stallPeriods);
        if (stall.compareTo(minStall) < 0) {
            stall = minStall;
        }
        Instant running = j.runningSince;
        Instant lastEnd = j.lastEndAt;
        Instant since = lastEnd != null ? lastEnd : j.scheduledAt.plus(j.initialDelay);
        Thread t = j.thread;
        if (t != null && !t.isAlive() && !closed) {
            return new String[] {"stalled", "its thread has ended"};
        }
        if (Duration.between(since, now).compareTo(stall) > 0) {
            return new String[] {"stalled", "no pass has finished for " + Duration.between(since, now).toSeconds()
                    + " s (period " + period.toMillis() / 1000.0 + " s)" + (running != null ? "; the current pass"
                    + " has run since " + running : "")};
        }
        int inARow = j.failuresInARow;
        if (inARow >= failuresForAlarm) {
            Throwable e = j.lastError;
            // the error's class only: the alarm is shown in the public health answer (the text is logged and audited)
            return new String[] {"failing", inARow + " passes failed in a row" + (e == null ? "" : ", the last with "
                    + e.getClass().getName())};
        }
        return null;
    }

    private static String stack(Job j) {
        Thread t = j.thread;
        if (t == null || j.runningSince == null) {
            return "";
        }
        return "; its thread is at:\n    " + Arrays.stream(t.getStackTrace()).limit(12).map(Object::toString)
                .collect(Collectors.joining("\n    "));
    }

    private boolean audit(Job j, String action, Object old, Object now, String why, Outcome outcome) {
        if (audit == null) {
            return true;
        }
        try {
            audit.record(new AuditLog.Entry(ACTOR, action, "job", j.name, j.name, old, now, why, outcome, null));
            return true;
        } catch (Throwable t) {
            safeLog("could not audit " + action + " of job " + j.name + " (tried again at the next look): " + t, null);
            return false;
        }
    }

    private static void safeLog(String message, Throwable t) {
        try {
            if (t == null) {
                LOG.error(message);
            } else {
                LOG.error(message, t);
            }
        } catch (Throwable ignored) {
            // logging itself failed (out of memory?): nothing else can be told
        }
    }

    /** Stops every job (a pass that runs is interrupted) and the watchdog. */
    @Override
    public void close() {
        closed = true;
        watchdog.interrupt();
        List<Thread> threads = new ArrayList<>();
        for (Job j : jobs) {
            Thread t = j.thread;
            if (t != null) {
                t.interrupt();
                threads.add(t);
            }
        }
        for (Thread t : threads) {
            try {
                t.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
