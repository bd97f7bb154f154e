package org.carevisor.manager.migration;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.carevisor.manager.db.Sql;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/** Migrations in the database. Thread-safe. */
public final class MigrationRepository {
    private final Jdbi jdbi;

    public MigrationRepository(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    public Jdbi jdbi() {
        return jdbi;
    }

    public void insert(MigrationRecord m) {
        jdbi.useHandle(h -> h.createUpdate("""
                INSERT INTO migrations (id, vm_id, vm_name, source_host_id, dest_host_id, phase, purpose, task_id, actor,
                  bandwidth_mib, downtime_limit_ms, auto_converge, started_at)
                VALUES (:id, :vm, :name, :src, :dst, :phase, :purpose, :task, :actor, :bw, :limit, :ac, :at)""")
                .bind("id", m.id()).bind("vm", m.vmId()).bind("name", m.vmName()).bind("src", m.sourceHostId())
                .bind("dst", m.destHostId()).bind("phase", m.phase()).bind("purpose", m.purpose())
                .bind("task", m.taskId()).bind("actor", m.actor()).bind("bw", m.bandwidthMiBps())
                .bind("limit", m.downtimeLimitMs()).bind("ac", m.autoConverge()).bind("at", Sql.ts(m.startedAt()))
                .execute());
    }

    /** Writes the next phase (before the step it names is taken). */
    public void phase(String id, String phase) {
        jdbi.useHandle(h -> phase(h, id, phase));
    }

    public void phase(Handle h, String id, String phase) {
        h.createUpdate("UPDATE migrations SET phase = :p WHERE id = :id").bind("p", phase).bind("id", id).execute();
    }

    public void incomingUri(String id, String uri) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE migrations SET incoming_uri = :u WHERE id = :id").bind("u", uri)
                .bind("id", id).execute());
    }

    /** Records the end: phase, figures QEMU reported, and the error if any. */
    public void finish(Handle h, String id, String phase, Long downtimeMs, Long totalMs, Long transferred, Long passes,
                       String error) {
        h.createUpdate("""
                UPDATE migrations SET phase = :p, finished_at = :at, downtime_ms = COALESCE(:dt, downtime_ms),
                  total_ms = COALESCE(:total, total_ms), transferred_bytes = COALESCE(:bytes, transferred_bytes),
                  passes = COALESCE(:passes, passes), error = :error WHERE id = :id""")
                .bind("p", phase).bind("at", Sql.ts(Instant.now())).bind("dt", downtimeMs).bind("total", totalMs)
                .bind("bytes", transferred).bind("passes", passes)
                .bind("error", error == null ? null : error.length() > 2000 ? error.substring(0, 2000) : error)
                .bind("id", id).execute();
    }

    /** Keeps the figures QEMU reported at completion (the migration is not finished yet). */
    public void figures(String id, Long downtimeMs, Long totalMs, Long transferred, Long passes) {
        jdbi.useHandle(h -> h.createUpdate("""
                UPDATE migrations SET downtime_ms = :dt, total_ms = :total, transferred_bytes = :bytes, passes = :passes
                WHERE id = :id""").bind("dt", downtimeMs).bind("total", totalMs).bind("bytes", transferred)
                .bind("passes", passes).bind("id", id).execute());
    }

    public Optional<MigrationRecord> find(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM migrations WHERE id = :id").bind("id", id)
                .map((rs, c) -> map(rs)).findOne());
    }

    /** Newest first, of one VM or all. */
    public List<MigrationRecord> list(String vmId, int limit) {
        return list(vmId, org.carevisor.manager.auth.ScopeFilter.EVERYTHING, limit, 0);
    }

    /**
     * Newest first, of one VM or all, of the VMs in {@code scopes} (by the VM's current place; migrations of
     * deleted VMs only for the global scope); filtered in SQL before {@code limit} and {@code offset}.
     */
    public List<MigrationRecord> list(String vmId, org.carevisor.manager.auth.ScopeFilter scopes, int limit,
                                      int offset) {
        String sql = "SELECT m.* FROM migrations m"
                + (scopes.everything() ? "" : " JOIN vms v ON v.id = m.vm_id")
                + " WHERE " + scopes.vmCondition("v") + (vmId == null ? "" : " AND m.vm_id = :vm")
                + " ORDER BY m.started_at DESC, m.id LIMIT :limit OFFSET :offset";
        return jdbi.withHandle(h -> scopes.bind(h.createQuery(sql)).bind("vm", vmId).bind("limit", limit)
                .bind("offset", offset).map((rs, c) -> map(rs)).list());
    }

    /** Migrations that have not reached an end state. */
    public List<MigrationRecord> open() {
        return jdbi.withHandle(h -> h.createQuery("""
                SELECT * FROM migrations WHERE phase NOT IN ('completed', 'failed', 'cancelled') ORDER BY started_at""")
                .map((rs, c) -> map(rs)).list());
    }

    private static MigrationRecord map(ResultSet rs) throws SQLException {
        return new MigrationRecord(rs.getString("id"), rs.getString("vm_id"), rs.getString("vm_name"),
                rs.getString("source_host_id"), rs.getString("dest_host_id"), rs.getString("phase"),
                rs.getString("purpose"), rs.getString("task_id"), rs.getString("actor"), rs.getString("incoming_uri"),
                rs.getInt("bandwidth_mib"), rs.getInt("downtime_limit_ms"), rs.getBoolean("auto_converge"),
                Sql.instant(rs, "started_at"), Sql.instant(rs, "finished_at"), Sql.longOrNull(rs, "downtime_ms"),
                Sql.longOrNull(rs, "total_ms"), Sql.longOrNull(rs, "transferred_bytes"), Sql.longOrNull(rs, "passes"),
                rs.getString("error"));
    }
}
