package org.carevisor.manager.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.db.Database;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Refusals are audited without letting a flood of them flood the audit trail. Against a real H2 database. */
class RefusalLogTest {
    @TempDir
    Path dir;

    private static AuditLog.Entry entry(String reason) {
        return new AuditLog.Entry(Actor.user("agent:x", "192.0.2.9"), "host.enroll", "host", null, null, null, null,
                reason, AuditLog.Outcome.REFUSED, null);
    }

    private static long count(Database db) {
        return db.jdbi().withHandle(h -> h.createQuery("SELECT COUNT(*) FROM audit_log WHERE action = 'host.enroll'")
                .mapTo(Long.class).one());
    }

    @Test
    void repeatsAreCountedAndEachSourceHasABudget() {
        try (Database db = Database.open(Database.h2Url(dir), null, null)) {
            RefusalLog log = new RefusalLog(new AuditLog(db.jdbi()), Duration.ofMinutes(1));
            for (int i = 0; i < 50; i++) {
                log.refused("enroll|192.0.2.9", "join-token-invalid", entry("the join token is not known"));
            }
            assertThat(count(db)).as("one record for fifty equal refusals").isEqualTo(1);
            for (int i = 0; i < 100; i++) {
                log.refused("enroll|192.0.2.10", "kind-" + i, entry("refusal " + i));
            }
            assertThat(count(db)).as("a source that varies its refusals gets its budget").isEqualTo(1
                    + RefusalLog.PER_SOURCE);
            log.refused("enroll|192.0.2.11", "join-token-invalid", entry("another source"));
            assertThat(count(db)).isEqualTo(2 + RefusalLog.PER_SOURCE);

            RefusalLog every = new RefusalLog(new AuditLog(db.jdbi()), Duration.ZERO);
            every.refused("a", "k", entry("first"));
            every.refused("a", "k", entry("second"));
            assertThat(count(db)).isEqualTo(4 + RefusalLog.PER_SOURCE);
        }
    }
}
