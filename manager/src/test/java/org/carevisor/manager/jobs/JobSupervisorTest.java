package org.carevisor.manager.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditRecord;
import org.carevisor.manager.db.Database;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The supervisor of periodic jobs, with fault injection: a pass that throws an {@link Error} (here
 * {@link FaultInjectionError}, as an OutOfMemoryError or a StackOverflowError would) does not end the schedule;
 * failing passes in a row and a pass that hangs raise an alarm, audited once per episode in a real (H2) audit
 * trail, and cleared - audited - when the job passes again.
 */
class JobSupervisorTest {
    /** Fault injection: an Error a pass throws, like the OutOfMemoryError that used to end the HA timer. */
    static final class FaultInjectionError extends Error {
        FaultInjectionError(String message) {
            super(message);
        }
    }

    @TempDir
    Path dir;
    Database db;
    AuditLog audit;
    JobSupervisor jobs;

    @BeforeEach
    void open() {
        db = Database.open(Database.h2Url(dir), null, null);
        audit = new AuditLog(db.jdbi());
        // alarm after 3 failures in a row, or 4 periods (at least 300 ms) without a finished pass
        jobs = new JobSupervisor(audit, 3, 4, Duration.ofMillis(300), Duration.ofMillis(20));
    }

    @AfterEach
    void close() {
        jobs.close();
        db.close();
    }

    private List<AuditRecord> trail(String action) {
        return audit.query(new AuditLog.Filter(null, null, null, null, action, null, 1000, true));
    }

    private JobSupervisor.Status status(String name) {
        return jobs.status().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void anErrorInAPassDoesNotEndTheScheduleAndRepeatedFailuresRaiseOneAlarm() {
        AtomicBoolean failing = new AtomicBoolean(true);
        AtomicInteger calls = new AtomicInteger();
        jobs.schedule("fault-injection", () -> Duration.ofMillis(20), Duration.ZERO, () -> {
            calls.incrementAndGet();
            if (failing.get()) {
                throw new FaultInjectionError("injected: the pass dies with an Error");
            }
        });
        // the schedule goes on after Errors: many passes were attempted, all failed
        Poll.until(Duration.ofSeconds(20), "10 failed passes", () -> status("fault-injection").failures() >= 10);
        JobSupervisor.Status s = status("fault-injection");
        assertThat(s.passes()).isZero();
        assertThat(s.state()).isEqualTo("failing");
        assertThat(s.alarm()).contains("passes failed in a row", FaultInjectionError.class.getName())
                .doesNotContain("injected"); // the class only: the alarm is shown publicly
        assertThat(s.lastError()).isEqualTo(FaultInjectionError.class.getName());
        assertThat(jobs.alarms()).extracting(JobSupervisor.Status::name).containsExactly("fault-injection");
        // audited once for the whole episode, however many passes failed
        Poll.until(Duration.ofSeconds(5), "the alarm in the audit trail", () -> !trail("manager.job.alarm").isEmpty());
        List<AuditRecord> alarms = trail("manager.job.alarm");
        assertThat(alarms).hasSize(1);
        assertThat(alarms.get(0).actor()).isEqualTo("system:supervisor");
        assertThat(alarms.get(0).targetName()).isEqualTo("fault-injection");
        assertThat(alarms.get(0).reason()).contains("injected: the pass dies with an Error"); // the trail has it all
        // it recovers: the alarm clears, audited once
        failing.set(false);
        Poll.until(Duration.ofSeconds(20), "the alarm to clear", () -> status("fault-injection").alarm() == null);
        Poll.until(Duration.ofSeconds(5), "recovered in the trail", () -> !trail("manager.job.recovered").isEmpty());
        assertThat(status("fault-injection").state()).isEqualTo("ok");
        assertThat(status("fault-injection").passes()).isPositive();
        assertThat(trail("manager.job.alarm")).hasSize(1);
        assertThat(trail("manager.job.recovered")).hasSize(1);
        // a second episode is a second alarm
        failing.set(true);
        Poll.until(Duration.ofSeconds(20), "a second alarm", () -> trail("manager.job.alarm").size() == 2);
    }

    @Test
    void aFewFailuresRaiseNoAlarmAndOtherJobsGoOn() {
        AtomicInteger calls = new AtomicInteger();
        jobs.schedule("flaky", () -> Duration.ofMillis(20), Duration.ZERO, () -> {
            if (calls.incrementAndGet() % 2 == 0) {
                throw new FaultInjectionError("injected: every second pass fails");
            }
        });
        AtomicInteger other = new AtomicInteger();
        jobs.schedule("steady", () -> Duration.ofMillis(20), Duration.ZERO, other::incrementAndGet);
        Poll.until(Duration.ofSeconds(20), "20 passes of flaky", () -> calls.get() >= 20);
        assertThat(status("flaky").failures()).isPositive();
        assertThat(status("flaky").alarm()).isNull();
        assertThat(other.get()).isPositive();
        jobs.check();
        assertThat(trail("manager.job.alarm")).isEmpty();
    }

    @Test
    void aHangingPassRaisesAStalledAlarmAndItsEndClearsIt() throws Exception {
        CountDownLatch hang = new CountDownLatch(1);
        AtomicInteger passes = new AtomicInteger();
        jobs.schedule("hangs", () -> Duration.ofMillis(20), Duration.ZERO, () -> {
            if (passes.incrementAndGet() == 3) {
                hang.await(); // fault injection: the third pass hangs (a call that never returns)
            }
        });
        AtomicInteger other = new AtomicInteger();
        jobs.schedule("other", () -> Duration.ofMillis(20), Duration.ZERO, other::incrementAndGet);
        Poll.until(Duration.ofSeconds(20), "the stalled alarm", () -> "stalled".equals(status("hangs").state()));
        JobSupervisor.Status s = status("hangs");
        assertThat(s.alarm()).contains("no pass has finished for", "the current pass has run since");
        assertThat(s.runningSince()).isNotNull();
        assertThat(passes.get()).isEqualTo(3); // the hung pass is not started a second time
        Poll.until(Duration.ofSeconds(5), "the alarm audited", () -> trail("manager.job.alarm").size() == 1);
        int before = other.get();
        Poll.until(Duration.ofSeconds(5), "the other job to go on", () -> other.get() > before);
        assertThat(status("other").alarm()).isNull();
        hang.countDown();
        Poll.until(Duration.ofSeconds(20), "the alarm to clear", () -> status("hangs").alarm() == null);
        Poll.until(Duration.ofSeconds(20), "more passes", () -> passes.get() > 4);
        Poll.until(Duration.ofSeconds(5), "recovered audited", () -> trail("manager.job.recovered").size() == 1);
        assertThat(trail("manager.job.alarm")).hasSize(1);
    }

    @Test
    void kickRunsAPassSoonAndThePeriodMayChange() {
        AtomicInteger calls = new AtomicInteger();
        AtomicInteger periodMinutes = new AtomicInteger(60);
        JobSupervisor.Job j = jobs.schedule("kicked", () -> Duration.ofMinutes(periodMinutes.get()), Duration.ofHours(1),
                calls::incrementAndGet);
        j.kick();
        Poll.until(Duration.ofSeconds(10), "a kicked pass", () -> calls.get() == 1);
        j.kick();
        Poll.until(Duration.ofSeconds(10), "a second kicked pass", () -> calls.get() == 2);
    }

    @Test
    void closeStopsEveryJob() {
        AtomicInteger calls = new AtomicInteger();
        jobs.schedule("closing", () -> Duration.ofMillis(10), Duration.ZERO, calls::incrementAndGet);
        Poll.until(Duration.ofSeconds(10), "a pass", () -> calls.get() > 0);
        jobs.close();
        int after = calls.get();
        Poll.sleep(200);
        assertThat(calls.get()).isLessThanOrEqualTo(after + 1);
    }
}
