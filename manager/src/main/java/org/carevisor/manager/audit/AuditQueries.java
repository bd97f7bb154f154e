package org.carevisor.manager.audit;

import java.util.List;

/**
 * Read-only queries of the audit trail for the API beyond {@link AuditLog#query}: the history of one object.
 * Thread-safe.
 */
public final class AuditQueries {
    private final AuditLog log;

    public AuditQueries(AuditLog log) {
        this.log = log;
    }

    /**
     * The records of the VM with id {@code vmId}, newest first: only records whose object is that VM (by type and
     * id, never by a name that merely equals the id), and only of its current life - a VM id can come back (an
     * import that keeps the exported identity after the original was deleted), and the earlier VM's records,
     * made where it lived then, belong to the full audit trail (Audit.Review), not to this VM's history.
     */
    public List<AuditRecord> ofVm(String vmId, int limit, int offset) {
        return log.jdbi().withHandle(h -> h.createQuery("""
                SELECT * FROM audit_log
                WHERE target_type = 'vm' AND target_id = :id
                  AND seq > COALESCE((SELECT MAX(d.seq) FROM audit_log d WHERE d.target_type = 'vm'
                      AND d.target_id = :id AND d.action = 'vm.delete' AND d.outcome = 'success'), 0)
                ORDER BY seq DESC LIMIT :limit OFFSET :offset""")
                .bind("id", vmId).bind("limit", limit).bind("offset", offset).map((rs, c) -> AuditLog.map(rs)).list());
    }
}
