package org.carevisor.manager.cluster;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import org.carevisor.manager.db.Sql;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/** Clusters in the database. Thread-safe. */
public final class ClusterRepository {
    private final Jdbi jdbi;

    public ClusterRepository(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    public Jdbi jdbi() {
        return jdbi;
    }

    public List<ClusterRecord> list() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM clusters ORDER BY name").map((rs, c) -> map(rs)).list());
    }

    public Optional<ClusterRecord> find(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM clusters WHERE id = :id").bind("id", id)
                .map((rs, c) -> map(rs)).findOne());
    }

    public Optional<ClusterRecord> findByName(String name) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM clusters WHERE name = :n").bind("n", name)
                .map((rs, c) -> map(rs)).findOne());
    }

    public void insert(Handle h, ClusterRecord c) {
        h.createUpdate("""
                INSERT INTO clusters (id, name, description, cpu_model, criticality, storage_domain_id, cpu_overcommit,
                  memory_overcommit, migration_bandwidth_mib, migration_downtime_ms, migration_auto_converge,
                  migration_max_parallel, migration_timeout_s, balancer_mode, balancer_threshold_pct,
                  balancer_interval_s, balancer_cooldown_min, created_at, updated_at)
                VALUES (:id, :name, :description, :cpuModel, :criticality, :domain, :cpuOver, :memOver, :bw, :downtime,
                  :autoConverge, :parallel, :timeout, :mode, :threshold, :interval, :cooldown, :created, :updated)""")
                .bindMap(values(c)).execute();
    }

    public void update(Handle h, ClusterRecord c) {
        h.createUpdate("""
                UPDATE clusters SET name = :name, description = :description, cpu_model = :cpuModel,
                  criticality = :criticality, storage_domain_id = :domain, cpu_overcommit = :cpuOver,
                  memory_overcommit = :memOver, migration_bandwidth_mib = :bw, migration_downtime_ms = :downtime,
                  migration_auto_converge = :autoConverge, migration_max_parallel = :parallel,
                  migration_timeout_s = :timeout, balancer_mode = :mode, balancer_threshold_pct = :threshold,
                  balancer_interval_s = :interval, balancer_cooldown_min = :cooldown, updated_at = :updated
                WHERE id = :id""").bindMap(values(c)).execute();
    }

    public void delete(Handle h, String id) {
        h.createUpdate("DELETE FROM clusters WHERE id = :id").bind("id", id).execute();
    }

    /** Records the storage domain of a cluster that has none yet; true when this call set it. */
    public boolean adoptStorageDomain(String clusterId, String domainId) {
        return jdbi.withHandle(h -> h.createUpdate("""
                UPDATE clusters SET storage_domain_id = :d WHERE id = :id AND storage_domain_id IS NULL""")
                .bind("d", domainId).bind("id", clusterId).execute()) == 1;
    }

    private static java.util.Map<String, Object> values(ClusterRecord c) {
        java.util.Map<String, Object> m = new java.util.HashMap<>();
        m.put("id", c.id());
        m.put("name", c.name());
        m.put("description", c.description());
        m.put("cpuModel", c.cpuModel());
        m.put("criticality", c.criticality());
        m.put("domain", c.storageDomainId());
        m.put("cpuOver", c.cpuOvercommit());
        m.put("memOver", c.memoryOvercommit());
        m.put("bw", c.migration().bandwidthMiBps());
        m.put("downtime", c.migration().downtimeLimitMs());
        m.put("autoConverge", c.migration().autoConverge());
        m.put("parallel", c.migration().maxParallel());
        m.put("timeout", c.migration().timeoutSeconds());
        m.put("mode", c.balancer().mode());
        m.put("threshold", c.balancer().thresholdPercent());
        m.put("interval", c.balancer().intervalSeconds());
        m.put("cooldown", c.balancer().cooldownMinutes());
        m.put("created", Sql.ts(c.createdAt()));
        m.put("updated", Sql.ts(c.updatedAt()));
        return m;
    }

    private static ClusterRecord map(ResultSet rs) throws SQLException {
        return new ClusterRecord(rs.getString("id"), rs.getString("name"), rs.getString("description"),
                rs.getString("cpu_model"), rs.getString("criticality"), rs.getString("storage_domain_id"),
                rs.getDouble("cpu_overcommit"), rs.getDouble("memory_overcommit"),
                new ClusterRecord.Migration(rs.getInt("migration_bandwidth_mib"), rs.getInt("migration_downtime_ms"),
                        rs.getBoolean("migration_auto_converge"), rs.getInt("migration_max_parallel"),
                        rs.getInt("migration_timeout_s")),
                new ClusterRecord.Balancer(rs.getString("balancer_mode"), rs.getInt("balancer_threshold_pct"),
                        rs.getInt("balancer_interval_s"), rs.getInt("balancer_cooldown_min")),
                Sql.instant(rs, "created_at"), Sql.instant(rs, "updated_at"));
    }
}
