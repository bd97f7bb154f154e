package org.carevisor.manager.audit;

import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;
import org.carevisor.manager.alarm.Alarms;
import org.carevisor.manager.db.Sql;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Signs the audit chain head periodically (the job {@code audit-checkpoints} of the manager's
 * {@link org.carevisor.manager.jobs.JobSupervisor} calls {@link #checkpoint}) and at shutdown with the checkpoint key, each checkpoint chained to the
 * previous one ({@link CheckpointChain}), stored in the database, appended to the anchor file outside it and sent
 * to syslog. Before it signs, it checks the trail since the last anchored checkpoint ({@link SigningCheck}): over a
 * forged head - records and checkpoints removed, the head moved back, the chain recomputed - it signs nothing and
 * raises the alarm {@value #INTEGRITY_ALARM} (logged, in the health answer, sent to syslog, and recorded in the
 * trail once it can be). Thread-safe.
 */
public final class AuditCheckpoints implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AuditCheckpoints.class);
    /** Alarm code: the trail does not match its anchored checkpoint; no checkpoint is signed over it. */
    public static final String INTEGRITY_ALARM = "audit-integrity";
    /** Alarm code: the anchor file cannot be written. */
    public static final String ANCHOR_ALARM = "audit-anchor";
    /** Alarm code: the configured remote syslog server (tcp) does not take the checkpoints. */
    public static final String SYSLOG_ALARM = "audit-syslog";

    /**
     * A signed chain head. {@code version} 1: made before the chain ({@code certificatePem} set); 2: chained
     * ({@code prevCheckpoint}, {@code checkpointHash} and {@code keyId} set).
     */
    public record Checkpoint(long seq, String hash, Instant signedAt, String signature, String certificatePem,
                             int version, String prevCheckpoint, String checkpointHash, String keyId) {
    }

    private final AuditLog audit;
    private final AuditTrust trust;
    private final SyslogSink syslog;
    private final Alarms alarms;
    private final IntSupplier intervalSeconds;
    private String alarmKey;
    private String auditedAlarmKey;

    /** {@code intervalSeconds}: how often the head is to be signed ({@link #interval}; read at every pass). */
    public AuditCheckpoints(AuditLog audit, AuditTrust trust, SyslogSink syslog, Alarms alarms,
                            IntSupplier intervalSeconds) {
        this.audit = audit;
        this.trust = trust;
        this.syslog = syslog;
        this.alarms = alarms;
        this.intervalSeconds = intervalSeconds;
    }

    /** How often {@link #checkpoint} is to run (a setting that cannot be read: a minute). */
    public java.time.Duration interval() {
        try {
            return java.time.Duration.ofSeconds(Math.max(1, intervalSeconds.getAsInt()));
        } catch (RuntimeException e) {
            return java.time.Duration.ofSeconds(60);
        }
    }

    /**
     * Checks the trail since the last anchored checkpoint and, when it is intact and the head moved, signs the head;
     * returns the newest checkpoint in the database (over a forged head: the old one, with the alarm raised).
     */
    public synchronized Checkpoint checkpoint() {
        AuditLog.Head head = audit.head();
        String trail = audit.trailId();
        SigningCheck.Result check = SigningCheck.run(audit, trust, head, trail);
        if (!check.ok()) {
            alarm(trail, check.problems());
            return latest();
        }
        cleared(trail);
        Checkpoint last = latest();
        if (head.seq() == 0 || (last != null && last.seq() >= head.seq())) {
            return last;
        }
        return sign(trail, head, check.prev());
    }

    /** Signs {@code head} after checkpoint {@code prev}: stored, anchored, sent to syslog. Caller checked the trail. */
    synchronized Checkpoint sign(String trail, AuditLog.Head head, String prev) {
        Checkpoint c = CheckpointChain.sign(trail, head.seq(), head.hash(), Sql.now(), prev, trust.key());
        audit.jdbi().useHandle(h -> h.createUpdate("""
                INSERT INTO audit_checkpoints (seq, hash, signed_at, signature, certificate, version, prev_checkpoint,
                                               checkpoint_hash, key_id)
                VALUES (:s, :h, :t, :sig, NULL, 2, :prev, :cp, :key)""").bind("s", c.seq()).bind("h", c.hash())
                .bind("t", Sql.ts(c.signedAt())).bind("sig", c.signature()).bind("prev", c.prevCheckpoint())
                .bind("cp", c.checkpointHash()).bind("key", c.keyId()).execute());
        try {
            trust.anchor().append(trail, c);
            if (alarms.clear(ANCHOR_ALARM)) {
                LOG.info("audit checkpoints are written to the anchor file {} again", trust.anchor().file());
            }
        } catch (IOException | RuntimeException e) {
            String reason = "the audit anchor file " + trust.anchor().file() + " cannot be written (" + e
                    + "): checkpoints are kept in the database and sent to syslog only; make the file writable"
                    + " (append-only is enough) or set --audit-anchor";
            if (alarms.raise(ANCHOR_ALARM, reason)) {
                LOG.error("{}", reason);
            }
        }
        if (syslog.send(SyslogSink.NOTICE, "audit-checkpoint", AuditAnchor.line(trail, c))) {
            alarms.clear(SYSLOG_ALARM);
        } else if (syslog.remote()) {
            alarms.raise(SYSLOG_ALARM, syslog.lastError() + ": the checkpoint for record " + c.seq() + " is kept in"
                    + " the database and the anchor file only; check the syslog server or --audit-syslog");
        }
        return c;
    }

    private void alarm(String trail, List<AuditVerifier.Problem> problems) {
        AuditVerifier.Problem first = problems.getFirst();
        String reason = "the audit trail does not match its anchored checkpoint: " + first.detail()
                + (problems.size() > 1 ? " (" + (problems.size() - 1) + " more problem(s); run audit verify)" : "")
                + "; no checkpoint is signed over it (see docs/operations.md, 'When audit verify reports damage')";
        alarms.raise(INTEGRITY_ALARM, reason);
        String key = first.kind() + ":" + first.seq();
        if (!key.equals(alarmKey)) {
            alarmKey = key;
            LOG.error("AUDIT TRAIL DAMAGED: {}", reason);
            Map<String, Object> msg = new LinkedHashMap<>();
            msg.put("type", "carevisor-audit-alarm");
            msg.put("trail", trail);
            msg.put("reason", reason);
            syslog.send(SyslogSink.CRIT, "audit-alarm", json(msg));
        }
        if (!key.equals(auditedAlarmKey)) {
            try {
                audit.record(new AuditLog.Entry(Actor.system("audit"), "audit.integrity-alarm", "audit-trail", trail,
                        null, null, Map.of("problems", problems.stream().limit(5).map(p -> Map.of("seq", p.seq(),
                                "kind", p.kind(), "detail", p.detail())).toList()), reason,
                        AuditLog.Outcome.FAILURE, null));
                auditedAlarmKey = key;
            } catch (RuntimeException e) {
                LOG.warn("could not record the audit integrity alarm in the trail (tried again at the next"
                        + " checkpoint): {}", e.toString());
            }
        }
    }

    private void cleared(String trail) {
        if (alarmKey == null) {
            return;
        }
        alarmKey = null;
        auditedAlarmKey = null;
        alarms.clear(INTEGRITY_ALARM);
        LOG.warn("the audit trail matches its anchored checkpoint again; the integrity alarm is cleared");
        syslog.send(SyslogSink.NOTICE, "audit-alarm", "{\"type\":\"carevisor-audit-alarm-cleared\",\"trail\":\""
                + trail + "\"}");
        audit.record(new AuditLog.Entry(Actor.system("audit"), "audit.integrity-restored", "audit-trail", trail,
                null, null, null, "the trail matches its anchored checkpoint again", AuditLog.Outcome.SUCCESS, null));
    }

    private static String json(Object o) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(o);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The newest checkpoint in the database (either version), or null. */
    public Checkpoint latest() {
        return latest(audit);
    }

    static Checkpoint latest(AuditLog audit) {
        return audit.jdbi().withHandle(h -> h.createQuery("SELECT * FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
                .map((rs, ctx) -> map(rs)).findOne().orElse(null));
    }

    /** Every checkpoint in the database, oldest first (for tests and small trails; see {@link #stream}). */
    static List<Checkpoint> all(AuditLog audit) {
        return from(audit, 0);
    }

    /** The checkpoints of records {@code >= seq}, oldest first. */
    static List<Checkpoint> from(AuditLog audit, long seq) {
        return audit.jdbi().withHandle(h -> h.createQuery("SELECT * FROM audit_checkpoints WHERE seq >= :s ORDER BY seq")
                .bind("s", seq).map((rs, ctx) -> map(rs)).list());
    }

    /** Up to {@code limit} checkpoints of records {@code > afterSeq}, oldest first. */
    static List<Checkpoint> page(AuditLog audit, long afterSeq, int limit) {
        return audit.jdbi().withHandle(h -> h.createQuery("SELECT * FROM audit_checkpoints WHERE seq > :s ORDER BY seq"
                + " LIMIT :n").bind("s", afterSeq).bind("n", limit).map((rs, ctx) -> map(rs)).list());
    }

    /** The link the first chained checkpoint has (or must have) to the checkpoints made before the chain. */
    static String legacyLink(AuditLog audit) {
        CheckpointChain.LegacyLink link = new CheckpointChain.LegacyLink();
        audit.jdbi().useHandle(h -> {
            try (var it = h.createQuery("SELECT * FROM audit_checkpoints WHERE version = 1 ORDER BY seq")
                    .setFetchSize(1000).map((rs, ctx) -> map(rs)).iterator()) {
                it.forEachRemaining(link::add);
            }
        });
        return link.value();
    }

    /** The newest chained checkpoint, or null. */
    static Checkpoint latestChained(AuditLog audit) {
        return audit.jdbi().withHandle(h -> h.createQuery("SELECT * FROM audit_checkpoints WHERE version <> 1 ORDER BY"
                + " seq DESC LIMIT 1").map((rs, ctx) -> map(rs)).findOne().orElse(null));
    }

    /** How many chained checkpoints there are. */
    static long countChained(AuditLog audit) {
        return audit.jdbi().withHandle(h -> h.createQuery("SELECT COUNT(*) FROM audit_checkpoints WHERE version <> 1")
                .mapTo(Long.class).one());
    }

    /** Whether a checkpoint with this checkpoint hash is in the database. */
    static boolean hasCheckpoint(AuditLog audit, String checkpointHash) {
        return audit.jdbi().withHandle(h -> h.createQuery("SELECT COUNT(*) FROM audit_checkpoints WHERE"
                + " checkpoint_hash = :c").bind("c", checkpointHash).mapTo(Long.class).one()) > 0;
    }

    /** The key id of the newest chained checkpoint, or null when none was signed (the key may then be made). */
    public static String signedKeyId(org.jdbi.v3.core.Jdbi jdbi) {
        return jdbi.withHandle(h -> h.createQuery("SELECT key_id FROM audit_checkpoints WHERE version = 2 ORDER BY seq"
                + " DESC LIMIT 1").mapTo(String.class).findOne().orElse(null));
    }

    private static Checkpoint map(java.sql.ResultSet rs) throws java.sql.SQLException {
        return new Checkpoint(rs.getLong("seq"), rs.getString("hash"), Sql.instant(rs, "signed_at"),
                rs.getString("signature"), rs.getString("certificate"), rs.getInt("version"),
                rs.getString("prev_checkpoint"), rs.getString("checkpoint_hash"), rs.getString("key_id"));
    }

    @Override
    public void close() {
        try {
            checkpoint();
        } catch (RuntimeException e) {
            LOG.warn("could not sign the audit chain head at shutdown: {}", e.toString());
        }
    }
}
