package org.carevisor.manager.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.carevisor.manager.alarm.Alarms;
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
 * Tampering with the audit trail directly in the database - changing, deleting, reordering, inserting records,
 * rewriting the chain with recomputed hashes, cutting off the end, removing checkpoints, moving the head back - is
 * found by the verifier, which names the first damaged record; the manager signs no checkpoint over a forged head
 * and raises the alarm. A new trail, a restart and a trail of the version before the chain verify clean. On
 * embedded H2 and on a real PostgreSQL server.
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

    /** A database with its checkpoint key and anchor file (both outside the database, as in the manager). */
    record Trail(Database db, AuditLog audit, AuditTrust trust, Alarms alarms) implements AutoCloseable {
        AuditCheckpoints checkpoints() {
            return new AuditCheckpoints(audit, trust, SyslogSink.parse("none"), alarms, () -> 3600);
        }

        /** Signs a checkpoint over the head, as the manager's timer does. */
        AuditCheckpoints.Checkpoint checkpoint() {
            try (AuditCheckpoints c = checkpoints()) {
                return c.checkpoint();
            }
        }

        AuditVerifier.Result verify() {
            return new AuditVerifier(new AuditLog(db.jdbi()), trust).verify();
        }

        void sql(String statement) {
            db.jdbi().useHandle(h -> h.execute(statement));
        }

        @Override
        public void close() {
            db.close();
        }
    }

    private static String url(String kind, int n) throws Exception {
        if (kind.equals("h2")) {
            return Database.h2Url(dir.resolve("h2-" + n));
        }
        postgres.psql("CREATE DATABASE tamper" + n);
        return postgres.jdbcUrl().replace("/carevisor", "/tamper" + n);
    }

    private static Trail open(String kind, String url, int n) throws Exception {
        Database db = Database.open(url, kind.equals("h2") ? null : postgres.user(), null);
        AuditLog audit = new AuditLog(db.jdbi());
        CheckpointKey key = CheckpointKey.open(dir.resolve("keys-" + n), AuditCheckpoints.signedKeyId(db.jdbi()));
        return new Trail(db, audit, new AuditTrust(key, new AuditAnchor(dir.resolve("audit-" + n + "/anchor.jsonl")),
                ca.certificate()), new Alarms());
    }

    /** A fresh database with a trail of 40 records and a signed checkpoint at the end. */
    private static Trail trail(String kind) throws Exception {
        int n = ++counter;
        Trail t = open(kind, url(kind, n), n);
        append(t.audit(), 1, 40);
        t.checkpoint();
        return t;
    }

    private static void append(AuditLog audit, int from, int to) {
        for (int i = from; i <= to; i++) {
            Actor actor = i % 7 == 0 ? Actor.system("reconciler") : new Actor("alice", "10.0.0." + (i % 250), "u-1",
                    i % 5 == 0 ? "CHG-" + i : null, i == 20 ? new Actor.Signature("u-1", "Alice Example", "approved",
                    org.carevisor.manager.db.Sql.now()) : null);
            audit.record(new AuditLog.Entry(actor, "vm.update", "vm", "v" + (i % 3), "ehr-0" + (i % 3),
                    Map.of("memoryMiB", 256 * i), Map.of("memoryMiB", 256 * (i + 1)), null, AuditLog.Outcome.SUCCESS,
                    null));
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void anIntactTrailVerifies(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            AuditVerifier.Result r = t.verify();
            assertThat(r.ok()).as(r.summary()).isTrue();
            assertThat(r.records()).isEqualTo(40);
            assertThat(r.checkpoints()).isEqualTo(1);
            assertThat(r.summary()).contains("intact", "40 records");
            // appending goes on from the head
            t.audit().record(new AuditLog.Entry(Actor.system("manager"), "manager.start", "manager", null,
                    null, null, null, null, AuditLog.Outcome.SUCCESS, null));
            assertThat(t.verify().ok()).isTrue();
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aChangedValueIsNamed(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            t.db().jdbi().useHandle(h -> h.execute("UPDATE audit_log SET new_value = '{\"memoryMiB\":999999}' WHERE seq = 17"));
            assertFirst(t.verify(), 17, "altered");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aChangedSignatureOrActorIsNamed(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            t.db().jdbi().useHandle(h -> h.execute("UPDATE audit_log SET signature_meaning = 'reviewed' WHERE seq = 20"));
            assertFirst(t.verify(), 20, "altered");
        }
        try (Trail t = trail(kind)) {
            t.db().jdbi().useHandle(h -> h.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"));
            assertFirst(t.verify(), 3, "altered");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aDeletedRecordIsNamed(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            t.db().jdbi().useHandle(h -> h.execute("DELETE FROM audit_log WHERE seq = 23"));
            AuditVerifier.Result r = t.verify();
            assertFirst(r, 23, "removed");
            assertThat(r.first().detail()).contains("record 23 is missing");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aDeletionHiddenByRenumberingIsFound(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            t.db().jdbi().useHandle(h -> {
                h.execute("DELETE FROM audit_log WHERE seq = 23");
                for (int s = 24; s <= 40; s++) {
                    h.execute("UPDATE audit_log SET seq = " + (s - 1) + " WHERE seq = " + s);
                }
                h.execute("UPDATE audit_head SET seq = 39");
            });
            AuditVerifier.Result r = t.verify();
            assertThat(r.ok()).isFalse();
            assertThat(r.first().seq()).isEqualTo(23);
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void swappedRecordsAreReportedAsReordered(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            t.db().jdbi().useHandle(h -> {
                h.execute("UPDATE audit_log SET seq = -1 WHERE seq = 30");
                h.execute("UPDATE audit_log SET seq = 30 WHERE seq = 31");
                h.execute("UPDATE audit_log SET seq = 31 WHERE seq = -1");
            });
            AuditVerifier.Result r = t.verify();
            assertFirst(r, 30, "reordered");
            assertThat(r.first().detail()).contains("written as record 31");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void anInsertedRecordIsFound(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            t.db().jdbi().useHandle(h -> h.execute("""
                    INSERT INTO audit_log (seq, at, actor, action, outcome, prev_hash, hash)
                    VALUES (41, CURRENT_TIMESTAMP, 'alice', 'vm.delete', 'success', 'x', 'y')"""));
            AuditVerifier.Result r = t.verify();
            assertThat(r.ok()).isFalse();
            assertThat(r.first().seq()).isEqualTo(41);
        }
    }

    /** An attacker who recomputes every hash after a change still cannot match the signed checkpoint. */
    @ParameterizedTest
    @MethodSource("databases")
    void aRewrittenChainFailsTheSignedCheckpoint(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            t.db().jdbi().useTransaction(h -> {
                h.execute("UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 12");
                rechain(h);
            });
            AuditVerifier.Result r = t.verify();
            assertThat(r.ok()).as(r.summary()).isFalse();
            assertThat(r.problems()).anySatisfy(p -> assertThat(p.kind()).isEqualTo("rewritten"));
            assertThat(r.summary()).contains("DAMAGED");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void cuttingOffTheEndIsFound(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            t.db().jdbi().useTransaction(h -> {
                h.execute("DELETE FROM audit_log WHERE seq > 37");
                String hash = h.createQuery("SELECT hash FROM audit_log WHERE seq = 37").mapTo(String.class).one();
                h.createUpdate("UPDATE audit_head SET seq = 37, hash = :h").bind("h", hash).execute();
            });
            AuditVerifier.Result r = t.verify();
            assertThat(r.ok()).isFalse();
            assertThat(r.first().kind()).isEqualTo("removed");
            assertThat(r.first().detail()).contains("covers records up to 40");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aForgedCheckpointSignatureIsFound(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            t.db().jdbi().useHandle(h -> h.execute("UPDATE audit_checkpoints SET signed_at = signed_at + INTERVAL '1' SECOND"));
            AuditVerifier.Result r = t.verify();
            assertThat(r.ok()).isFalse();
            assertThat(r.first().kind()).isEqualTo("signature");
        }
    }

    /**
     * Finding 7 as measured: records 41-92 (failed logins, a lockout) deleted with their checkpoint and the head
     * moved back to 40. The checkpoints left in the database are consistent, but the anchor file names the
     * checkpoint of record 92.
     */
    @ParameterizedTest
    @MethodSource("databases")
    void aTailDeletedWithItsCheckpointAndTheHeadMovedBackIsFound(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            append(t.audit(), 41, 92);
            assertThat(t.checkpoint().seq()).isEqualTo(92);
            forgeHead(t, 40);
            AuditVerifier.Result r = t.verify();
            assertThat(r.ok()).as(r.summary()).isFalse();
            assertThat(r.anchoredSeq()).isEqualTo(92);
            assertThat(r.problems()).anySatisfy(p -> {
                assertThat(p.kind()).isEqualTo("head-behind-anchor");
                assertThat(p.seq()).isEqualTo(92);
                assertThat(p.detail()).contains("chain head is record 40", "record 92", "records 41-92");
            });
            assertThat(r.problems()).anySatisfy(p -> {
                assertThat(p.kind()).isEqualTo("checkpoint-missing");
                assertThat(p.detail()).contains("record 92", "anchor file", "missing from the database");
            });
            assertThat(r.summary()).contains("DAMAGED", "92");
        }
    }

    /** The head moved back, then the manager appends again: the new record 92 is not the anchored one. */
    @ParameterizedTest
    @MethodSource("databases")
    void aForgedHeadOvertakenByNewRecordsIsStillFound(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            append(t.audit(), 41, 92);
            t.checkpoint();
            forgeHead(t, 40);
            append(t.audit(), 41, 95);
            AuditVerifier.Result r = t.verify();
            assertThat(r.ok()).as(r.summary()).isFalse();
            assertThat(r.problems()).anySatisfy(p -> {
                assertThat(p.seq()).isEqualTo(92);
                assertThat(p.kind()).isIn("rewritten", "checkpoint-missing");
            });
        }
    }

    /** Every hash recomputed after a change, every checkpoint deleted: the anchor still names the true head. */
    @ParameterizedTest
    @MethodSource("databases")
    void aChainRecomputedAfterDeletingTheCheckpointsIsFound(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            t.db().jdbi().useTransaction(h -> {
                h.execute("UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 12");
                rechain(h);
                h.execute("DELETE FROM audit_checkpoints");
            });
            AuditVerifier.Result r = t.verify();
            assertThat(r.ok()).as(r.summary()).isFalse();
            assertThat(r.problems()).anySatisfy(p -> {
                assertThat(p.kind()).isEqualTo("checkpoint-missing");
                assertThat(p.seq()).isEqualTo(40);
            });
            assertThat(r.problems()).anySatisfy(p -> {
                assertThat(p.kind()).isEqualTo("rewritten");
                assertThat(p.seq()).isEqualTo(40);
            });
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aCheckpointDeletedInTheMiddleIsFound(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            for (int i = 41; i <= 70; i += 10) {
                append(t.audit(), i, i + 9);
                t.checkpoint();
            }
            assertThat(t.verify().ok()).isTrue();
            assertThat(t.verify().checkpoints()).isEqualTo(4);
            t.sql("DELETE FROM audit_checkpoints WHERE seq = 60");
            AuditVerifier.Result r = t.verify();
            assertFirst(r, 70, "checkpoint-missing");
            assertThat(r.first().detail()).contains("between records 50 and 70");
        }
    }

    /** A checkpoint made with a key of the attacker's (stored in the database like a genuine one) does not verify. */
    @ParameterizedTest
    @MethodSource("databases")
    void aCheckpointSignedWithAnotherKeyIsFound(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            append(t.audit(), 41, 45);
            CheckpointKey other = CheckpointKey.open(dir.resolve("attacker-keys-" + (++counter)), null);
            AuditCheckpoints.Checkpoint latest = AuditCheckpoints.all(t.audit()).getLast();
            AuditLog.Head head = t.audit().head();
            AuditCheckpoints.Checkpoint forged = CheckpointChain.sign(t.audit().trailId(), head.seq(), head.hash(),
                    org.carevisor.manager.db.Sql.now(), latest.checkpointHash(), other);
            t.db().jdbi().useHandle(h -> h.createUpdate("""
                    INSERT INTO audit_checkpoints (seq, hash, signed_at, signature, version, prev_checkpoint,
                                                   checkpoint_hash, key_id)
                    VALUES (:s, :h, :t, :sig, 2, :prev, :cp, :key)""").bind("s", forged.seq()).bind("h", forged.hash())
                    .bind("t", org.carevisor.manager.db.Sql.ts(forged.signedAt())).bind("sig", forged.signature())
                    .bind("prev", forged.prevCheckpoint()).bind("cp", forged.checkpointHash())
                    .bind("key", forged.keyId()).execute());
            AuditVerifier.Result r = t.verify();
            assertFirst(r, 45, "signature");
            assertThat(r.first().detail()).contains("not with this manager's checkpoint key");
        }
    }

    /**
     * Over a forged head the manager signs nothing: no new checkpoint in the database or the anchor file, the
     * alarm is raised with the anchored record named, and recorded in the trail once (not at every tick).
     */
    @ParameterizedTest
    @MethodSource("databases")
    void theManagerDoesNotSignOverAForgedHeadAndRaisesTheAlarm(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            append(t.audit(), 41, 92);
            t.checkpoint();
            forgeHead(t, 40);
            append(t.audit(), 41, 41); // the manager goes on writing (its start, logins...)
            try (AuditCheckpoints c = t.checkpoints()) {
                AuditCheckpoints.Checkpoint latest = c.checkpoint();
                assertThat(latest.seq()).isEqualTo(40);
                c.checkpoint();
                assertThat(t.alarms().raised(AuditCheckpoints.INTEGRITY_ALARM)).isTrue();
                assertThat(t.alarms().active().getFirst().reason()).contains("record 92", "no checkpoint is signed");
            }
            assertThat(AuditCheckpoints.all(t.audit())).extracting(AuditCheckpoints.Checkpoint::seq)
                    .containsExactly(40L);
            assertThat(t.trust().anchor().last().checkpoint().seq()).isEqualTo(92);
            List<AuditRecord> alarms = t.audit().query(new AuditLog.Filter(null, null, null, null,
                    "audit.integrity-alarm", null, 100, true));
            assertThat(alarms).hasSize(1);
            assertThat(alarms.getFirst().reason()).contains("record 92");
            assertThat(alarms.getFirst().outcome()).isEqualTo("failure");
        }
    }

    /** A new trail, signed, closed and opened again (a restart) verifies clean and goes on signing. */
    @ParameterizedTest
    @MethodSource("databases")
    void aFreshInstallAndARestartVerifyClean(String kind) throws Exception {
        int n = ++counter;
        String url = url(kind, n);
        try (Trail t = open(kind, url, n)) {
            try (AuditCheckpoints c = t.checkpoints()) {
                assertThat(c.checkpoint()).as("nothing to sign on an empty trail").isNull();
                append(t.audit(), 1, 3);
                assertThat(c.checkpoint().seq()).isEqualTo(3);
                append(t.audit(), 4, 5);
            } // signs record 5 at shutdown
            assertThat(t.alarms().active()).isEmpty();
            AuditVerifier.Result r = t.verify();
            assertThat(r.ok()).as(r.summary()).isTrue();
            assertThat(r.anchoredSeq()).isEqualTo(5);
        }
        try (Trail t = open(kind, url, n)) {
            append(t.audit(), 6, 8);
            assertThat(t.checkpoint().seq()).isEqualTo(8);
            assertThat(t.alarms().active()).isEmpty();
            AuditVerifier.Result r = t.verify();
            assertThat(r.ok()).as(r.summary()).isTrue();
            assertThat(r.checkpoints()).isEqualTo(3);
            assertThat(r.summary()).contains("anchored up to record 8");
        }
    }

    /**
     * A database of the version before the chain (schema 6): records with checkpoints signed by a manager
     * certificate, no trail id, no anchor. After the migration it verifies clean, the manager chains on from those
     * checkpoints, and removing one of the old checkpoints is still found.
     */
    @ParameterizedTest
    @MethodSource("databases")
    void aTrailOfTheVersionBeforeTheChainIsMigrated(String kind) throws Exception {
        int n = ++counter;
        String url = url(kind, n);
        String user = kind.equals("h2") ? null : postgres.user();
        org.flywaydb.core.Flyway.configure().dataSource(url, user, null).locations("classpath:db/migration")
                .target("6").load().migrate();
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(url, user, null)) {
            String prev = AuditChain.GENESIS;
            for (int i = 1; i <= 30; i++) {
                java.time.Instant at = org.carevisor.manager.db.Sql.now();
                AuditRecord r = new AuditRecord(i, at, "alice", "u-1", "vm.update", "vm", "v1", "ehr-01", null,
                        "{\"memoryMiB\":" + i + "}", null, "success", "10.0.0.1", null, null, prev, null);
                String hash = AuditChain.hashOf(prev, r);
                try (var ps = c.prepareStatement("INSERT INTO audit_log (seq, at, actor, actor_id, action, target_type,"
                        + " target_id, target_name, new_value, outcome, client_address, prev_hash, hash)"
                        + " VALUES (?, ?, 'alice', 'u-1', 'vm.update', 'vm', 'v1', 'ehr-01', ?, 'success', '10.0.0.1', ?,"
                        + " ?)")) {
                    ps.setLong(1, i);
                    ps.setObject(2, org.carevisor.manager.db.Sql.ts(at));
                    ps.setString(3, r.newValue());
                    ps.setString(4, prev);
                    ps.setString(5, hash);
                    ps.executeUpdate();
                }
                prev = hash;
                if (i % 10 == 0) {
                    AuditCheckpoints.Checkpoint cp = CheckpointChain.signLegacy(i, hash,
                            org.carevisor.manager.db.Sql.now(), managerKeys.getPrivate(), managerCert);
                    try (var ps = c.prepareStatement("INSERT INTO audit_checkpoints (seq, hash, signed_at, signature,"
                            + " certificate) VALUES (?, ?, ?, ?, ?)")) {
                        ps.setLong(1, i);
                        ps.setString(2, hash);
                        ps.setObject(3, org.carevisor.manager.db.Sql.ts(cp.signedAt()));
                        ps.setString(4, cp.signature());
                        ps.setString(5, cp.certificatePem());
                        ps.executeUpdate();
                    }
                }
            }
            try (var ps = c.prepareStatement("INSERT INTO audit_head (id, seq, hash) VALUES (1, 30, ?)")) {
                ps.setString(1, prev);
                ps.executeUpdate();
            }
        }
        try (Trail t = open(kind, url, n)) {
            assertThat(t.audit().trailId()).isNotBlank();
            AuditVerifier.Result before = t.verify();
            assertThat(before.ok()).as(before.summary()).isTrue();
            assertThat(before.checkpoints()).isEqualTo(3);
            append(t.audit(), 31, 35);
            AuditCheckpoints.Checkpoint first = t.checkpoint();
            assertThat(first.version()).isEqualTo(2);
            assertThat(t.alarms().active()).isEmpty();
            AuditVerifier.Result after = t.verify();
            assertThat(after.ok()).as(after.summary()).isTrue();
            assertThat(after.anchoredSeq()).isEqualTo(35);
            t.sql("DELETE FROM audit_checkpoints WHERE seq = 20");
            AuditVerifier.Result r = t.verify();
            assertThat(r.ok()).as(r.summary()).isFalse();
            assertThat(r.problems()).anySatisfy(p -> {
                assertThat(p.kind()).isEqualTo("checkpoint-missing");
                assertThat(p.seq()).isEqualTo(35);
            });
        }
    }

    /** Another trail's anchor file (two managers given one file, or the trail id changed) is named as such. */
    @ParameterizedTest
    @MethodSource("databases")
    void anAnchorFileOfAnotherTrailIsNamed(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            t.sql("UPDATE audit_head SET trail_id = '00000000-0000-0000-0000-000000000000'");
            AuditVerifier.Result r = t.verify();
            assertThat(r.ok()).isFalse();
            assertThat(r.problems()).anySatisfy(p -> {
                assertThat(p.kind()).isEqualTo("anchor");
                assertThat(p.detail()).contains("belongs to audit trail");
            });
        }
    }

    /**
     * A database restored from a backup older than the anchor: refused until re-anchored with a reason; then the
     * loss is in the trail, the trail verifies and checkpoints are signed again. A trail damaged in itself is not
     * re-anchored.
     */
    @ParameterizedTest
    @MethodSource("databases")
    void aRestoredOlderDatabaseIsAcceptedOnlyByReanchoringWithAReason(String kind) throws Exception {
        try (Trail t = trail(kind)) {
            append(t.audit(), 41, 60);
            t.checkpoint();
            forgeHead(t, 40); // what a restore of the backup taken at record 40 looks like
            t.checkpoint();
            assertThat(t.alarms().raised(AuditCheckpoints.INTEGRITY_ALARM)).isTrue();
            AuditReanchor.Outcome o = AuditReanchor.run(t.audit(), t.trust(), SyslogSink.parse("none"),
                    "database restored from the backup of 02:00 after a disk failure (INC-4711)");
            assertThat(o.previous().seq()).isEqualTo(60);
            assertThat(o.summary()).contains("the anchor held record 60", "head was record 41", "is lost");
            assertThat(t.trust().anchor().last().checkpoint().seq()).isEqualTo(o.checkpoint().seq());
            AuditRecord r = t.audit().query(new AuditLog.Filter(null, null, null, null, "audit.reanchored", null, 10,
                    true)).getFirst();
            assertThat(r.reason()).contains("INC-4711");
            assertThat(r.oldValue()).contains("\"anchoredSeq\":60");
            Trail fresh = new Trail(t.db(), t.audit(), t.trust(), new Alarms());
            append(t.audit(), 100, 102);
            assertThat(fresh.checkpoint().seq()).isEqualTo(o.checkpoint().seq() + 3);
            assertThat(fresh.alarms().active()).isEmpty();
            AuditVerifier.Result v = t.verify();
            assertThat(v.ok()).as(v.summary()).isTrue();

            t.sql("UPDATE audit_log SET reason = 'nothing' WHERE seq = 7");
            assertThatThrownBy(() -> AuditReanchor.run(t.audit(), t.trust(), SyslogSink.parse("none"), "hide it"))
                    .hasMessageContaining("damaged in itself").hasMessageContaining("record 7");
        }
    }

    /** More checkpoints than the verifier reads at once: the chain is followed across its pages. */
    @org.junit.jupiter.api.Test
    void aCheckpointMissingBeyondTheFirstPageIsFound() throws Exception {
        try (Trail t = trail("h2")) {
            try (AuditCheckpoints c = t.checkpoints()) {
                for (int i = 41; i <= 1100; i++) {
                    append(t.audit(), i, i);
                    c.checkpoint();
                }
            }
            AuditVerifier.Result ok = t.verify();
            assertThat(ok.ok()).as(ok.summary()).isTrue();
            assertThat(ok.checkpoints()).isEqualTo(1061);
            t.sql("DELETE FROM audit_checkpoints WHERE seq = 1050");
            AuditVerifier.Result r = t.verify();
            assertFirst(r, 1051, "checkpoint-missing");
            assertThat(r.first().detail()).contains("between records 1049 and 1051");
        }
    }

    /** Deletes the records after {@code seq} and the checkpoints over them, and moves the head back. */
    private static void forgeHead(Trail t, long seq) {
        t.db().jdbi().useTransaction(h -> {
            h.execute("DELETE FROM audit_log WHERE seq > " + seq);
            h.execute("DELETE FROM audit_checkpoints WHERE seq > " + seq);
            String hash = h.createQuery("SELECT hash FROM audit_log WHERE seq = " + seq).mapTo(String.class).one();
            h.createUpdate("UPDATE audit_head SET seq = :s, hash = :h").bind("s", seq).bind("h", hash).execute();
        });
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
