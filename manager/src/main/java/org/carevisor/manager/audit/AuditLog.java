package org.carevisor.manager.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.List;
import org.carevisor.manager.api.Json;
import org.carevisor.manager.db.Sql;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * The single writer of the audit trail: every state change, by a person or an automatic process,
 * passes through {@link #record}. Records are only appended, never updated or deleted. Thread-safe
 * (appends are serialized so sequence numbers have no gaps).
 */
public final class AuditLog {
    /** Outcome of an audited action. */
    public enum Outcome { SUCCESS, FAILURE, REFUSED }

    /** What the caller knows about the change; values are serialized to JSON. */
    public record Entry(Actor actor, String action, String targetType, String targetId, String targetName,
                        Object oldValue, Object newValue, String reason, Outcome outcome, String taskId) {
    }

    private static final ObjectMapper JSON = Json.mapper();

    private final Jdbi jdbi;
    private final Object appendLock = new Object();
    private long lastSeq;

    public AuditLog(Jdbi jdbi) {
        this.jdbi = jdbi;
        this.lastSeq = jdbi.withHandle(h -> h.createQuery("SELECT COALESCE(MAX(seq), 0) FROM audit_log")
                .mapTo(Long.class).one());
    }

    /** Appends a record in its own transaction and returns its sequence number. */
    public long record(Entry e) {
        return jdbi.inTransaction(h -> record(h, e));
    }

    /** Appends a record inside the caller's transaction, so the change and its record commit together. */
    public long record(Handle h, Entry e) {
        synchronized (appendLock) {
            long seq = lastSeq + 1;
            h.createUpdate("""
                    INSERT INTO audit_log (seq, at, actor, action, target_type, target_id, target_name, old_value,
                                           new_value, reason, outcome, client_address, task_id)
                    VALUES (:seq, :at, :actor, :action, :targetType, :targetId, :targetName, :oldValue, :newValue,
                            :reason, :outcome, :address, :taskId)""")
                    .bind("seq", seq)
                    .bind("at", Sql.ts(Instant.now()))
                    .bind("actor", e.actor().name())
                    .bind("action", e.action())
                    .bind("targetType", e.targetType())
                    .bind("targetId", e.targetId())
                    .bind("targetName", e.targetName())
                    .bind("oldValue", toJson(e.oldValue()))
                    .bind("newValue", toJson(e.newValue()))
                    .bind("reason", e.reason())
                    .bind("outcome", e.outcome().name().toLowerCase(java.util.Locale.ROOT))
                    .bind("address", e.actor().address())
                    .bind("taskId", e.taskId())
                    .execute();
            lastSeq = seq;
            return seq;
        }
    }

    /** Records of one object (or all when {@code targetId} is null), newest first. */
    public List<AuditRecord> query(String targetId, int limit) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM audit_log"
                        + (targetId == null ? "" : " WHERE target_id = :target")
                        + " ORDER BY seq DESC LIMIT :limit")
                .bind("target", targetId)
                .bind("limit", limit)
                .map((rs, ctx) -> new AuditRecord(rs.getLong("seq"), Sql.instant(rs, "at"), rs.getString("actor"), rs.getString("action"), rs.getString("target_type"),
                        rs.getString("target_id"), rs.getString("target_name"), rs.getString("old_value"),
                        rs.getString("new_value"), rs.getString("reason"), rs.getString("outcome"),
                        rs.getString("client_address"), rs.getString("task_id")))
                .list());
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
