package org.carevisor.manager.host;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.carevisor.manager.db.Sql;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.ProtocolJson;
import org.jdbi.v3.core.Jdbi;

/** Hosts in the database. Thread-safe. */
public final class HostRepository {
    private final Jdbi jdbi;

    public HostRepository(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    public Jdbi jdbi() {
        return jdbi;
    }

    /** Inserts or updates a host from its inventory; returns true when the host is new. */
    public boolean upsert(HostInventory inventory, Instant seen) {
        String json = json(inventory);
        return jdbi.inTransaction(h -> {
            int updated = h.createUpdate("""
                    UPDATE hosts SET name = :name, endpoint = :endpoint, inventory_json = :inv, last_seen = :seen
                    WHERE id = :id""")
                    .bind("id", inventory.hostId()).bind("name", inventory.hostname())
                    .bind("endpoint", inventory.endpoint()).bind("inv", json).bind("seen", Sql.ts(seen)).execute();
            if (updated > 0) {
                return false;
            }
            h.createUpdate("""
                    INSERT INTO hosts (id, name, endpoint, inventory_json, first_seen, last_seen, cluster_id)
                    VALUES (:id, :name, :endpoint, :inv, :seen, :seen, :cluster)""")
                    .bind("cluster", org.carevisor.manager.cluster.ClusterRecord.DEFAULT_ID)
                    .bind("id", inventory.hostId()).bind("name", inventory.hostname())
                    .bind("endpoint", inventory.endpoint()).bind("inv", json).bind("seen", Sql.ts(seen)).execute();
            return true;
        });
    }

    /** The address the host is registered to receive live migrations at (null: none registered yet). */
    public Optional<String> migrationAddress(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT migration_address FROM hosts WHERE id = :id")
                .bind("id", id).mapTo(String.class).findOne());
    }

    public List<HostRecord> list() {
        return jdbi.withHandle(h -> {
            java.util.Map<String, List<String>> tags = tags(h);
            return h.createQuery("SELECT * FROM hosts ORDER BY name, id").map((rs, c) -> map(rs, tags)).list();
        });
    }

    public Optional<HostRecord> find(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM hosts WHERE id = :id").bind("id", id)
                .map((rs, c) -> map(rs, tags(h))).findOne());
    }

    /** Hosts of one cluster. */
    public List<HostRecord> inCluster(String clusterId) {
        return list().stream().filter(x -> x.clusterId().equals(clusterId)).toList();
    }

    /** Changes a host's settings (cluster, tags, reserved memory, description) inside the caller's transaction. */
    public void updateSettings(org.jdbi.v3.core.Handle h, String id, String clusterId, List<String> tags,
                               int reservedMemoryMiB, String description) {
        h.createUpdate("""
                UPDATE hosts SET cluster_id = :cluster, reserved_memory_mib = :reserved, description = :description
                WHERE id = :id""").bind("cluster", clusterId).bind("reserved", reservedMemoryMiB)
                .bind("description", description).bind("id", id).execute();
        h.createUpdate("DELETE FROM host_tags WHERE host_id = :id").bind("id", id).execute();
        for (String tag : tags) {
            h.createUpdate("INSERT INTO host_tags (host_id, tag) VALUES (:id, :tag)").bind("id", id).bind("tag", tag)
                    .execute();
        }
    }

    /** Sets or clears the maintenance flag inside the caller's transaction. */
    public void setMaintenance(org.jdbi.v3.core.Handle h, String id, boolean on, String reason, Instant since) {
        h.createUpdate("""
                UPDATE hosts SET maintenance = :on, maintenance_reason = :reason, maintenance_since = :since
                WHERE id = :id""").bind("on", on).bind("reason", on ? reason : null)
                .bind("since", on ? Sql.ts(since) : null).bind("id", id).execute();
    }

    private static java.util.Map<String, List<String>> tags(org.jdbi.v3.core.Handle h) {
        java.util.Map<String, List<String>> out = new java.util.HashMap<>();
        h.createQuery("SELECT host_id, tag FROM host_tags ORDER BY tag").map((rs, c) -> out.computeIfAbsent(
                rs.getString("host_id"), k -> new java.util.ArrayList<>()).add(rs.getString("tag"))).list();
        return out;
    }

    private static HostRecord map(java.sql.ResultSet rs, java.util.Map<String, List<String>> tags)
            throws java.sql.SQLException {
        try {
            String id = rs.getString("id");
            return new HostRecord(id, rs.getString("name"), rs.getString("endpoint"),
                    ProtocolJson.mapper().readValue(rs.getString("inventory_json"), HostInventory.class),
                    Sql.instant(rs, "first_seen"), Sql.instant(rs, "last_seen"), rs.getString("cluster_id"),
                    tags.getOrDefault(id, List.of()), rs.getBoolean("maintenance"), rs.getString("maintenance_reason"),
                    Sql.instant(rs, "maintenance_since"), rs.getInt("reserved_memory_mib"),
                    rs.getString("description"));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored inventory of host " + rs.getString("id") + " is unreadable", e);
        }
    }

    private static String json(HostInventory inventory) {
        try {
            return ProtocolJson.mapper().writeValueAsString(inventory);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
