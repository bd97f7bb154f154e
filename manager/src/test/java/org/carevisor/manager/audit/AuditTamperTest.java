package org.carevisor.manager.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.carevisor.manager.db.Database;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Keys;
import org.carevisor.testkit.PostgresServer;
import org.jdbi.v3.core.Handle;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Tampering with the audit trail directly in the database - changing, deleting, reordering, inserting
 * records, rewriting the chain with recomputed hashes, cutting off the end - is found by the verifier, which
 * names the first damaged record. On embedded H2 and on a real PostgreSQL server.
 */
class AuditTamperTest {
    @TempDir
    static Path dir;
    private static PostgresServer postgres;
    private static CertificateAuthority ca;
    private static KeyPair managerKeys;
    private static java.security.cert.X509Certificate managerCert;
    private static int counter;

    @BeforeAll
    static void start() throws Exception {
        postgres = PostgresServer.start();
        ca = CertificateAuthority.loadOrCreate(dir.resolve("pki"), "Carevisor test CA");
        managerKeys = Keys.generate();
        managerCert = ca.issue(managerKeys.getPublic(), "manager", List.of("127.0.0.1"), Duration.ofDays(1));
    }

    @AfterAll
    static void stop() throws Exception {
        if (postgres != null) {
            postgres.close();
        }
    }

    static Stream<String> databases() {
        return Stream.of("h2", "postgresql");
    }

    /** A fresh database with a trail of 40 records and a signed checkpoint at the end. */
    private static Database trail(String kind) throws Exception {
        int n = ++counter;
        Database db;
        if (kind.equals("h2")) {
            db = Database.open(Database.h2Url(dir.resolve("h2-" + n)), null, null);
        } else {
            postgres.psql("CREATE DATABASE tamper" + n);
            db = Database.open(postgres.jdbcUrl().replace("/carevisor", "/tamper" + n), postgres.user(), null);
        }
        AuditLog audit = new AuditLog(db.jdbi());
        for (int i = 1; i <= 40; i++) {
            Actor actor = i % 7 == 0 ? Actor.system("reconciler") : new Actor("alice", "10.0.0." + i, "u-1",
                    i % 5 == 0 ? "CHG-" + i : null, i == 20 ? new Actor.Signature("u-1", "Alice Example", "approved",
                    org.carevisor.manager.db.Sql.now()) : null);
            audit.record(new AuditLog.Entry(actor, "vm.update", "vm", "v" + (i % 3), "ehr-0" + (i % 3),
                    Map.of("memoryMiB", 256 * i), Map.of("memoryMiB", 256 * (i + 1)), null, AuditLog.Outcome.SUCCESS,
                    null));
        }
        try (AuditCheckpoints c = checkpoints(audit)) {
            c.checkpoint();
        }
        return db;
    }

    private static AuditCheckpoints checkpoints(AuditLog audit) {
        return new AuditCheckpoints(audit, managerKeys.getPrivate(), managerCert, () -> 3600);
    }

    private static AuditVerifier.Result verify(Database db) {
        return new AuditVerifier(new AuditLog(db.jdbi()), ca.certificate()).verify();
    }

    @ParameterizedTest
    @MethodSource("databases")
    void anIntactTrailVerifies(String kind) throws Exception {
        try (Database db = trail(kind)) {
            AuditVerifier.Result r = verify(db);
            assertThat(r.ok()).as(r.summary()).isTrue();
            assertThat(r.records()).isEqualTo(40);
            assertThat(r.checkpoints()).isEqualTo(1);
            assertThat(r.summary()).contains("intact", "40 records");
            // appending goes on from the head
            new AuditLog(db.jdbi()).record(new AuditLog.Entry(Actor.system("manager"), "manager.start", "manager", null,
                    null, null, null, null, AuditLog.Outcome.SUCCESS, null));
            assertThat(verify(db).ok()).isTrue();
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aChangedValueIsNamed(String kind) throws Exception {
        try (Database db = trail(kind)) {
            db.jdbi().useHandle(h -> h.execute("UPDATE audit_log SET new_value = '{\"memoryMiB\":999999}' WHERE seq = 17"));
            assertFirst(verify(db), 17, "altered");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aChangedSignatureOrActorIsNamed(String kind) throws Exception {
        try (Database db = trail(kind)) {
            db.jdbi().useHandle(h -> h.execute("UPDATE audit_log SET signature_meaning = 'reviewed' WHERE seq = 20"));
            assertFirst(verify(db), 20, "altered");
        }
        try (Database db = trail(kind)) {
            db.jdbi().useHandle(h -> h.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"));
            assertFirst(verify(db), 3, "altered");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aDeletedRecordIsNamed(String kind) throws Exception {
        try (Database db = trail(kind)) {
            db.jdbi().useHandle(h -> h.execute("DELETE FROM audit_log WHERE seq = 23"));
            AuditVerifier.Result r = verify(db);
            assertFirst(r, 23, "removed");
            assertThat(r.first().detail()).contains("record 23 is missing");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aDeletionHiddenByRenumberingIsFound(String kind) throws Exception {
        try (Database db = trail(kind)) {
            db.jdbi().useHandle(h -> {
                h.execute("DELETE FROM audit_log WHERE seq = 23");
                for (int s = 24; s <= 40; s++) {
                    h.execute("UPDATE audit_log SET seq = " + (s - 1) + " WHERE seq = " + s);
                }
                h.execute("UPDATE audit_head SET seq = 39");
            });
            AuditVerifier.Result r = verify(db);
            assertThat(r.ok()).isFalse();
            assertThat(r.first().seq()).isEqualTo(23);
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void swappedRecordsAreReportedAsReordered(String kind) throws Exception {
        try (Database db = trail(kind)) {
            db.jdbi().useHandle(h -> {
                h.execute("UPDATE audit_log SET seq = -1 WHERE seq = 30");
                h.execute("UPDATE audit_log SET seq = 30 WHERE seq = 31");
                h.execute("UPDATE audit_log SET seq = 31 WHERE seq = -1");
            });
            AuditVerifier.Result r = verify(db);
            assertFirst(r, 30, "reordered");
            assertThat(r.first().detail()).contains("written as record 31");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void anInsertedRecordIsFound(String kind) throws Exception {
        try (Database db = trail(kind)) {
            db.jdbi().useHandle(h -> h.execute("""
                    INSERT INTO audit_log (seq, at, actor, action, outcome, prev_hash, hash)
                    VALUES (41, CURRENT_TIMESTAMP, 'alice', 'vm.delete', 'success', 'x', 'y')"""));
            AuditVerifier.Result r = verify(db);
            assertThat(r.ok()).isFalse();
            assertThat(r.first().seq()).isEqualTo(41);
        }
    }

    /** An attacker who recomputes every hash after a change still cannot match the signed checkpoint. */
    @ParameterizedTest
    @MethodSource("databases")
    void aRewrittenChainFailsTheSignedCheckpoint(String kind) throws Exception {
        try (Database db = trail(kind)) {
            db.jdbi().useTransaction(h -> {
                h.execute("UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 12");
                rechain(h);
            });
            AuditVerifier.Result r = verify(db);
            assertThat(r.ok()).as(r.summary()).isFalse();
            assertThat(r.problems()).anySatisfy(p -> assertThat(p.kind()).isEqualTo("rewritten"));
            assertThat(r.summary()).contains("DAMAGED");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void cuttingOffTheEndIsFound(String kind) throws Exception {
        try (Database db = trail(kind)) {
            db.jdbi().useTransaction(h -> {
                h.execute("DELETE FROM audit_log WHERE seq > 37");
                String hash = h.createQuery("SELECT hash FROM audit_log WHERE seq = 37").mapTo(String.class).one();
                h.createUpdate("UPDATE audit_head SET seq = 37, hash = :h").bind("h", hash).execute();
            });
            AuditVerifier.Result r = verify(db);
            assertThat(r.ok()).isFalse();
            assertThat(r.first().kind()).isEqualTo("removed");
            assertThat(r.first().detail()).contains("covers records up to 40");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aForgedCheckpointSignatureIsFound(String kind) throws Exception {
        try (Database db = trail(kind)) {
            db.jdbi().useHandle(h -> h.execute("UPDATE audit_checkpoints SET signed_at = signed_at + INTERVAL '1' SECOND"));
            AuditVerifier.Result r = verify(db);
            assertThat(r.ok()).isFalse();
            assertThat(r.first().kind()).isEqualTo("signature");
        }
    }

    /** Recomputes every hash in order, as an attacker with database access could. */
    private static void rechain(Handle h) {
        String prev = AuditChain.GENESIS;
        for (AuditRecord r : h.createQuery("SELECT * FROM audit_log ORDER BY seq").map((rs, c) -> AuditLog.map(rs)).list()) {
            String hash = AuditChain.hashOf(prev, r);
            h.createUpdate("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s").bind("p", prev)
                    .bind("h", hash).bind("s", r.seq()).execute();
            prev = hash;
        }
        h.createUpdate("UPDATE audit_head SET hash = :h").bind("h", prev).execute();
    }

    private static void assertFirst(AuditVerifier.Result r, long seq, String kind) {
        assertThat(r.ok()).as(r.summary()).isFalse();
        assertThat(r.first().seq()).as(r.summary()).isEqualTo(seq);
        assertThat(r.first().kind()).as(r.summary()).isEqualTo(kind);
    }
}
