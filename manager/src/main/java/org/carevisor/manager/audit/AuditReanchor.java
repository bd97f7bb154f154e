package org.carevisor.manager.audit;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.carevisor.manager.alarm.Alarms;
import org.carevisor.manager.audit.AuditCheckpoints.Checkpoint;

/**
 * Re-anchoring after an acknowledged loss, run on the manager's machine while the manager is stopped
 * ({@code carevisor-manager audit-reanchor --reason TEXT}): when the database was restored from a backup older
 * than the anchor file, or the anchor file was lost, the manager refuses to sign until someone who holds the
 * checkpoint key and the anchor file accepts the database's trail as it is. Only a trail that is consistent in
 * itself is accepted. The old anchored checkpoint, the new head and the reason are recorded in the trail
 * ({@code audit.reanchored}) and sent to syslog, and a new checkpoint over it is signed and anchored: the loss
 * stays visible, in the trail, in the anchor file's history and at the log server. Not thread-safe (one run).
 */
public final class AuditReanchor {
    /** What happened: the new checkpoint and the one the anchor file held before (null: none or unreadable). */
    public record Outcome(Checkpoint checkpoint, Checkpoint previous, String summary) {
    }

    private AuditReanchor() {
    }

    public static Outcome run(AuditLog audit, AuditTrust trust, SyslogSink syslog, String reason) {
        if (reason == null || reason.isBlank()) {
            throw new IllegalArgumentException("--reason is required (it is kept in the audit trail)");
        }
        AuditVerifier.Result own = new AuditVerifier(audit, trust).verifyDatabaseOnly();
        if (!own.ok()) {
            throw new IllegalStateException("the audit trail in the database is damaged in itself (" + own.summary()
                    + "): re-anchoring would not make it whole; keep the database for the investigation and restore"
                    + " an intact backup first");
        }
        Checkpoint previous;
        String previousProblem = null;
        try {
            AuditAnchor.Entry e = trust.anchor().last();
            previous = e == null ? null : e.checkpoint();
        } catch (IOException | IllegalArgumentException e) {
            previous = null;
            previousProblem = e.getMessage();
        }
        String trail = audit.trailId();
        AuditLog.Head before = audit.head();
        Map<String, Object> old = new LinkedHashMap<>();
        old.put("anchorFile", trust.anchor().file().toString());
        if (previous != null) {
            old.put("anchoredSeq", previous.seq());
            old.put("anchoredCheckpoint", previous.checkpointHash());
            old.put("anchoredAt", previous.signedAt().toString());
        } else {
            old.put("anchored", previousProblem == null ? "none" : "unreadable: " + previousProblem);
        }
        audit.record(new AuditLog.Entry(Actor.system("console"), "audit.reanchored", "audit-trail", trail, null, old,
                Map.of("headSeq", before.seq() + 1), reason, AuditLog.Outcome.SUCCESS, null));
        Checkpoint lastChained = AuditCheckpoints.latestChained(audit);
        String prev = lastChained == null ? AuditCheckpoints.legacyLink(audit) : lastChained.checkpointHash();
        AuditLog.Head head = audit.head();
        try (AuditCheckpoints signer = new AuditCheckpoints(audit, trust, syslog, new Alarms(), () -> 3600)) {
            Checkpoint c = signer.sign(trail, head, prev);
            Map<String, Object> msg = new LinkedHashMap<>();
            msg.put("type", "carevisor-audit-reanchor");
            msg.put("trail", trail);
            msg.put("reason", reason);
            msg.put("previous", old);
            msg.put("seq", c.seq());
            msg.put("checkpoint", c.checkpointHash());
            syslog.send(SyslogSink.CRIT, "audit-reanchor", json(msg));
            String summary = "re-anchored the audit trail at record " + c.seq() + " in " + trust.anchor().file()
                    + (previous == null ? "" : "; the anchor held record " + previous.seq() + " (signed at "
                    + previous.signedAt() + "), the database's head was record " + before.seq()
                    + (previous.seq() > before.seq() ? " (what the anchored trail held after the restored state is"
                    + " lost; the anchor file's earlier lines and syslog keep its checkpoints)" : ""));
            return new Outcome(c, previous, summary);
        }
    }

    private static String json(Object o) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(o);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
