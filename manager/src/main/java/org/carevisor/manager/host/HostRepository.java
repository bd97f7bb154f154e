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
                    INSERT INTO hosts (id, name, endpoint, inventory_json, first_seen, last_seen)
                    VALUES (:id, :name, :endpoint, :inv, :seen, :seen)""")
                    .bind("id", inventory.hostId()).bind("name", inventory.hostname())
                    .bind("endpoint", inventory.endpoint()).bind("inv", json).bind("seen", Sql.ts(seen)).execute();
            return true;
        });
    }

    public List<HostRecord> list() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM hosts ORDER BY name, id")
                .map((rs, c) -> map(rs)).list());
    }

    public Optional<HostRecord> find(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM hosts WHERE id = :id").bind("id", id)
                .map((rs, c) -> map(rs)).findOne());
    }

    private static HostRecord map(java.sql.ResultSet rs) throws java.sql.SQLException {
        try {
            return new HostRecord(rs.getString("id"), rs.getString("name"), rs.getString("endpoint"),
                    ProtocolJson.mapper().readValue(rs.getString("inventory_json"), HostInventory.class),
                    Sql.instant(rs, "first_seen"), Sql.instant(rs, "last_seen"));
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
