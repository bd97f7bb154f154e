package org.carevisor.manager.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.carevisor.manager.api.Json;
import org.carevisor.manager.db.Sql;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The single writer of the audit trail: every state change, by a person or an automatic process,
 * passes through {@link #record}. Records are only appended, never updated or deleted; no API changes them.
 * Each record is chained to the previous one by its SHA-256 hash ({@link AuditChain}). An append locks the
 * chain head row ({@code audit_head}, {@code SELECT ... FOR UPDATE}) until its transaction commits, so the
 * chain has no gaps and no forks even when several transactions (or managers) append at once.
 */
public final class AuditLog {
    private static final Logger LOG = LoggerFactory.getLogger(AuditLog.class);

    /** Outcome of an audited action. */
    public enum Outcome { SUCCESS, FAILURE, REFUSED }

    /** What the caller knows about the change; values are serialized to JSON. */
    public record Entry(Actor actor, String action, String targetType, String targetId, String targetName,
                        Object oldValue, Object newValue, String reason, Outcome outcome, String taskId) {
    }

    /** A query of the trail; null fields do not filter. Times are inclusive-exclusive [from, to). */
    public record Filter(Instant from, Instant to, String actor, String targetId, String action, Long afterSeq,
                         int limit, boolean ascending) {
        public static Filter target(String targetId, int limit) {
            return new Filter(null, null, null, targetId, null, null, limit, false);
        }
    }

    /** The chain head: the last record's sequence number and hash. */
    public record Head(long seq, String hash) {
    }

    private static final ObjectMapper JSON = Json.mapper();

    private final Jdbi jdbi;

    public AuditLog(Jdbi jdbi) {
        this.jdbi = jdbi;
        init();
    }

    public Jdbi jdbi() {
        return jdbi;
    }

    /** Creates the head row; chains records written before the chain existed (schema versions 1-4). */
    private void init() {
        jdbi.useTransaction(h -> {
            boolean hasHead = h.createQuery("SELECT COUNT(*) FROM audit_head").mapTo(Long.class).one() > 0;
            if (hasHead) {
                // a trail of a version before the trail id (schema version 7) gets one
                h.createUpdate("UPDATE audit_head SET trail_id = :t WHERE id = 1 AND trail_id IS NULL")
                        .bind("t", java.util.UUID.randomUUID().toString()).execute();
                return;
            }
            String prev = AuditChain.GENESIS;
            long last = 0;
            List<AuditRecord> legacy = h.createQuery("SELECT * FROM audit_log ORDER BY seq").map((rs, c) -> map(rs))
                    .list();
            for (AuditRecord r : legacy) {
                String hash = AuditChain.hashOf(prev, r);
                h.createUpdate("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s").bind("p", prev)
                        .bind("h", hash).bind("s", r.seq()).execute();
                prev = hash;
                last = r.seq();
            }
            h.createUpdate("INSERT INTO audit_head (id, seq, hash, trail_id) VALUES (1, :s, :h, :t)").bind("s", last)
                    .bind("h", prev).bind("t", java.util.UUID.randomUUID().toString()).execute();
            if (!legacy.isEmpty()) {
                LOG.info("chained {} audit records written before the hash chain existed", legacy.size());
            }
        });
    }

    /** Appends a record in its own transaction and returns its sequence number. */
    public long record(Entry e) {
        return jdbi.inTransaction(h -> record(h, e));
    }

    /** Appends a record inside the caller's transaction, so the change and its record commit together. */
    public long record(Handle h, Entry e) {
        Head head = h.createQuery("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
                .map((rs, c) -> new Head(rs.getLong("seq"), rs.getString("hash"))).one();
        long seq = head.seq() + 1;
        Actor a = e.actor();
        Actor.Signature s = a.signature();
        String reason = e.reason() != null ? e.reason() : a.reason();
        if (e.reason() != null && a.reason() != null && !e.reason().contains(a.reason())) {
            reason = a.reason() + "; " + e.reason();
        }
        reason = fitReason(reason);
        AuditRecord r = new AuditRecord(seq, Sql.now(), a.name(), a.userId(), e.action(), e.targetType(), e.targetId(),
                e.targetName(), toJson(e.oldValue()), toJson(e.newValue()), reason,
                e.outcome().name().toLowerCase(Locale.ROOT), a.address(), e.taskId(),
                s == null ? null : new AuditRecord.SignatureView(s.printedName(), s.meaning(), s.signedAt()),
                head.hash(), null);
        String hash = AuditChain.hashOf(head.hash(), r);
        h.createUpdate("""
                INSERT INTO audit_log (seq, at, actor, actor_id, action, target_type, target_id, target_name, old_value,
                                       new_value, reason, outcome, client_address, task_id, signer_name,
                                       signature_meaning, signed_at, prev_hash, hash)
                VALUES (:seq, :at, :actor, :actorId, :action, :targetType, :targetId, :targetName, :oldValue, :newValue,
                        :reason, :outcome, :address, :taskId, :signer, :meaning, :signedAt, :prev, :hash)""")
                .bind("seq", seq)
                .bind("at", Sql.ts(r.at()))
                .bind("actor", r.actor())
                .bind("actorId", r.actorId())
                .bind("action", r.action())
                .bind("targetType", r.targetType())
                .bind("targetId", r.targetId())
                .bind("targetName", r.targetName())
                .bind("oldValue", r.oldValue())
                .bind("newValue", r.newValue())
                .bind("reason", r.reason())
                .bind("outcome", r.outcome())
                .bind("address", r.clientAddress())
                .bind("taskId", r.taskId())
                .bind("signer", s == null ? null : s.printedName())
                .bind("meaning", s == null ? null : s.meaning())
                .bind("signedAt", s == null ? null : Sql.ts(s.signedAt()))
                .bind("prev", head.hash())
                .bind("hash", hash)
                .execute();
        h.createUpdate("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1").bind("s", seq).bind("h", hash).execute();
        return seq;
    }

    /** The width of the {@code reason} column. */
    public static final int REASON_COLUMN = 2000;

    /**
     * A record's reason shortened to its column: a person's reason comes first and is bounded at input (at
     * most {@code Guard.MAX_REASON}), so only the text the system added (an error message) is ever cut, and a
     * record can always be written - even after the disks of a deleted VM are gone.
     */
    static String fitReason(String reason) {
        if (reason == null || reason.length() <= REASON_COLUMN) {
            return reason;
        }
        return reason.substring(0, REASON_COLUMN - 12) + " [shortened]";
    }

    public Head head() {
        return jdbi.withHandle(h -> h.createQuery("SELECT seq, hash FROM audit_head WHERE id = 1")
                .map((rs, c) -> new Head(rs.getLong("seq"), rs.getString("hash"))).one());
    }

    /**
     * The trail's identity: a random UUID made with the trail, signed into every chained checkpoint and written
     * into every anchor line (an anchor file of another trail is recognised).
     */
    public String trailId() {
        return jdbi.withHandle(h -> h.createQuery("SELECT trail_id FROM audit_head WHERE id = 1").mapTo(String.class)
                .one());
    }

    /** Streams the records {@code from <= seq <= to} in order. */
    public void streamRange(long from, long to, Consumer<AuditRecord> sink) {
        jdbi.useHandle(h -> {
            var q = h.createQuery("SELECT * FROM audit_log WHERE seq >= :from AND seq <= :to ORDER BY seq")
                    .setFetchSize(1000).bind("from", from).bind("to", to);
            try (var it = q.map((rs, c) -> map(rs)).iterator()) {
                it.forEachRemaining(sink);
            }
        });
    }

    /** Records of one object (or all when {@code targetId} is null), newest first. */
    public List<AuditRecord> query(String targetId, int limit) {
        return query(Filter.target(targetId, limit));
    }

    public List<AuditRecord> query(Filter f) {
        List<AuditRecord> out = new ArrayList<>();
        stream(f, out::add);
        return out;
    }

    /**
     * Streams the records matching {@code f} with bounded memory (for exports and verification of any size): the
     * rows come from a database cursor - PostgreSQL fetches {@value #FETCH_SIZE} rows at a time inside a
     * read transaction, H2 runs the query lazily - and each is handed to {@code sink} and forgotten.
     */
    public void stream(Filter f, Consumer<AuditRecord> sink) {
        String sql = "SELECT * FROM audit_log" + where(f) + " ORDER BY seq " + (f.ascending() ? "ASC" : "DESC")
                + " LIMIT :limit";
        jdbi.useTransaction(h -> {
            boolean h2 = isH2(h);
            if (h2) {
                h.execute("SET LAZY_QUERY_EXECUTION TRUE");
            }
            try {
                var q = bind(h.createQuery(sql).setFetchSize(FETCH_SIZE), f).bind("limit", f.limit());
                try (var it = q.map((rs, c) -> map(rs)).iterator()) {
                    it.forEachRemaining(sink);
                }
            } finally {
                if (h2) {
                    h.execute("SET LAZY_QUERY_EXECUTION FALSE");
                }
            }
        });
    }

    private static boolean isH2(Handle h) {
        try {
            return h.getConnection().getMetaData().getDatabaseProductName().startsWith("H2");
        } catch (SQLException e) {
            throw new IllegalStateException("cannot tell the database product", e);
        }
    }

    /** Rows a streaming query fetches at a time. */
    static final int FETCH_SIZE = 500;

    /** How many records match {@code f} (its limit and order do not matter). */
    public long count(Filter f) {
        return jdbi.withHandle(h -> bind(h.createQuery("SELECT COUNT(*) FROM audit_log" + where(f)), f)
                .mapTo(Long.class).one());
    }

    private static String where(Filter f) {
        StringBuilder sql = new StringBuilder(" WHERE 1 = 1");
        if (f.from() != null) {
            sql.append(" AND at >= :from");
        }
        if (f.to() != null) {
            sql.append(" AND at < :to");
        }
        if (f.actor() != null) {
            sql.append(" AND (actor = :actor OR actor_id = :actor)");
        }
        if (f.targetId() != null) {
            sql.append(" AND (target_id = :target OR target_name = :target)");
        }
        if (f.action() != null) {
            sql.append(f.action().endsWith("*") ? " AND action LIKE :action" : " AND action = :action");
        }
        if (f.afterSeq() != null) {
            sql.append(" AND seq > :after");
        }
        return sql.toString();
    }

    private static org.jdbi.v3.core.statement.Query bind(org.jdbi.v3.core.statement.Query q, Filter f) {
        if (f.from() != null) {
            q.bind("from", Sql.ts(f.from()));
        }
        if (f.to() != null) {
            q.bind("to", Sql.ts(f.to()));
        }
        if (f.actor() != null) {
            q.bind("actor", f.actor());
        }
        if (f.targetId() != null) {
            q.bind("target", f.targetId());
        }
        if (f.action() != null) {
            q.bind("action", f.action().endsWith("*") ? f.action().substring(0, f.action().length() - 1) + "%"
                    : f.action());
        }
        if (f.afterSeq() != null) {
            q.bind("after", f.afterSeq());
        }
        return q;
    }

    static AuditRecord map(ResultSet rs) throws SQLException {
        String signer = rs.getString("signer_name");
        return new AuditRecord(rs.getLong("seq"), Sql.instant(rs, "at"), rs.getString("actor"),
                rs.getString("actor_id"), rs.getString("action"), rs.getString("target_type"), rs.getString("target_id"),
                rs.getString("target_name"), rs.getString("old_value"), rs.getString("new_value"),
                rs.getString("reason"), rs.getString("outcome"), rs.getString("client_address"),
                rs.getString("task_id"), signer == null ? null : new AuditRecord.SignatureView(signer,
                rs.getString("signature_meaning"), Sql.instant(rs, "signed_at")), rs.getString("prev_hash"),
                rs.getString("hash"));
    }

    private static String toJson(Object value) {
        if (value == null) {
            return null;
        }
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException ex) {
            throw new IllegalStateException("cannot serialize audit value", ex);
        }
    }
}
