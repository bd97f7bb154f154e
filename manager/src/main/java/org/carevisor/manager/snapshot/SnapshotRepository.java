package org.carevisor.manager.snapshot;

import java.util.List;
import java.util.Optional;
import org.carevisor.manager.db.Sql;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/** Snapshot records in the database. Thread-safe. */
public final class SnapshotRepository {
    private final Jdbi jdbi;

    public SnapshotRepository(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    public void insert(Handle h, SnapshotRecord s) {
        h.createUpdate("""
                INSERT INTO snapshots (id, vm_id, name, description, parent_id, with_memory, vm_was_running, cpus,
                                       memory_mib, paused_ms, created_at, created_by)
                VALUES (:id, :vm, :name, :description, :parent, :memory, :running, :cpus, :mem, :paused, :at, :by)""")
                .bind("id", s.id()).bind("vm", s.vmId()).bind("name", s.name()).bind("description", s.description())
                .bind("parent", s.parentId()).bind("memory", s.withMemory()).bind("running", s.vmWasRunning())
                .bind("cpus", s.cpus()).bind("mem", s.memoryMiB()).bind("paused", s.pausedMs())
                .bind("at", Sql.ts(s.createdAt())).bind("by", s.createdBy()).execute();
    }

    /** The VM's snapshots, oldest first. */
    public List<SnapshotRecord> ofVm(String vmId) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM snapshots WHERE vm_id = :vm ORDER BY created_at, id")
                .bind("vm", vmId).map((rs, c) -> map(rs)).list());
    }

    public Optional<SnapshotRecord> find(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM snapshots WHERE id = :id").bind("id", id)
                .map((rs, c) -> map(rs)).findOne());
    }

    public int count(String vmId) {
        return jdbi.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM snapshots WHERE vm_id = :vm").bind("vm", vmId)
                .mapTo(Integer.class).one());
    }

    /** Removes a snapshot from the tree: its children now descend from its parent. */
    public void delete(Handle h, SnapshotRecord s) {
        h.createUpdate("UPDATE snapshots SET parent_id = :parent WHERE parent_id = :id").bind("parent", s.parentId())
                .bind("id", s.id()).execute();
        h.createUpdate("DELETE FROM snapshots WHERE id = :id").bind("id", s.id()).execute();
    }

    private static SnapshotRecord map(java.sql.ResultSet rs) throws java.sql.SQLException {
        return new SnapshotRecord(rs.getString("id"), rs.getString("vm_id"), rs.getString("name"),
                rs.getString("description"), rs.getString("parent_id"), rs.getBoolean("with_memory"),
                rs.getBoolean("vm_was_running"), rs.getInt("cpus"), rs.getInt("memory_mib"),
                Sql.longOrNull(rs, "paused_ms"), Sql.instant(rs, "created_at"), rs.getString("created_by"));
    }
}
