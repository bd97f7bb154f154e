package org.carevisor.manager.template;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.carevisor.manager.api.Json;
import org.carevisor.manager.db.Sql;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/** Templates in the database. Thread-safe. */
public final class TemplateRepository {
    private static final TypeReference<List<TemplateRecord.Nic>> NICS = new TypeReference<>() { };

    private final Jdbi jdbi;

    public TemplateRepository(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    public Jdbi jdbi() {
        return jdbi;
    }

    public void insert(Handle h, TemplateRecord t) {
        h.createUpdate("""
                INSERT INTO templates (id, name, version, description, guest_os, owner, state, cpus, memory_mib,
                                       nics_json, source_vm_id, source_vm_name, parent_template_id, created_at)
                VALUES (:id, :name, :version, :description, :guestOs, :owner, :state, :cpus, :memory, :nics,
                        :sourceVmId, :sourceVmName, :parent, :createdAt)""")
                .bind("id", t.id()).bind("name", t.name()).bind("version", t.version())
                .bind("description", t.description()).bind("guestOs", t.guestOs()).bind("owner", t.owner())
                .bind("state", t.state().json()).bind("cpus", t.cpus()).bind("memory", t.memoryMiB())
                .bind("nics", Json.write(t.nics())).bind("sourceVmId", t.sourceVmId())
                .bind("sourceVmName", t.sourceVmName()).bind("parent", t.parentTemplateId())
                .bind("createdAt", Sql.ts(t.createdAt())).execute();
        for (TemplateRecord.Disk d : t.disks()) {
            h.createUpdate("""
                    INSERT INTO template_disks (template_id, disk_id, position, path, format, size_bytes, sha256)
                    VALUES (:t, :disk, :pos, :path, :format, :size, :sha)""")
                    .bind("t", t.id()).bind("disk", d.diskId()).bind("pos", d.position()).bind("path", d.path())
                    .bind("format", d.format()).bind("size", d.sizeBytes()).bind("sha", d.sha256()).execute();
        }
    }

    public List<TemplateRecord> list() {
        return jdbi.withHandle(h -> load(h, "", null));
    }

    public Optional<TemplateRecord> find(String id) {
        return jdbi.withHandle(h -> load(h, "WHERE id = :key", id).stream().findFirst());
    }

    /** All versions of a name, newest first. */
    public List<TemplateRecord> byName(String name) {
        return jdbi.withHandle(h -> load(h, "WHERE name = :key", name)).reversed();
    }

    public int nextVersion(String name) {
        return jdbi.withHandle(h -> h.createQuery("SELECT COALESCE(MAX(version), 0) + 1 FROM templates WHERE name = :n")
                .bind("n", name).mapTo(Integer.class).one());
    }

    /** Records the qualification: state, who and when, and the SHA-256 of every base image. */
    public void qualify(Handle h, String id, Map<String, String> sha256ByDiskId, String by, Instant at) {
        h.createUpdate("UPDATE templates SET state = 'qualified', qualified_at = :at, qualified_by = :by WHERE id = :id")
                .bind("at", Sql.ts(at)).bind("by", by).bind("id", id).execute();
        sha256ByDiskId.forEach((disk, sha) -> h.createUpdate(
                        "UPDATE template_disks SET sha256 = :sha WHERE template_id = :id AND disk_id = :disk")
                .bind("sha", sha).bind("id", id).bind("disk", disk).execute());
    }

    public void retire(Handle h, String id, String by, Instant at) {
        h.createUpdate("UPDATE templates SET state = 'retired', retired_at = :at, retired_by = :by WHERE id = :id")
                .bind("at", Sql.ts(at)).bind("by", by).bind("id", id).execute();
    }

    public void delete(Handle h, String id) {
        h.createUpdate("DELETE FROM template_disks WHERE template_id = :id").bind("id", id).execute();
        h.createUpdate("DELETE FROM templates WHERE id = :id").bind("id", id).execute();
    }

    private List<TemplateRecord> load(Handle h, String where, String key) {
        Map<String, TemplateRecord> rows = new LinkedHashMap<>();
        Map<String, List<TemplateRecord.Disk>> disks = new LinkedHashMap<>();
        h.createQuery("SELECT * FROM templates " + where + " ORDER BY name, version").bind("key", key)
                .map((rs, c) -> row(rs)).forEach(t -> {
                    rows.put(t.id(), t);
                    disks.put(t.id(), new ArrayList<>());
                });
        if (rows.isEmpty()) {
            return List.of();
        }
        h.createQuery("SELECT * FROM template_disks WHERE template_id IN (<ids>) ORDER BY position")
                .bindList("ids", List.copyOf(rows.keySet()))
                .map((rs, c) -> disks.get(rs.getString("template_id")).add(new TemplateRecord.Disk(
                        rs.getString("disk_id"), rs.getInt("position"), rs.getString("path"), rs.getString("format"),
                        rs.getLong("size_bytes"), rs.getString("sha256")))).list();
        List<TemplateRecord> out = new ArrayList<>();
        for (TemplateRecord t : rows.values()) {
            out.add(new TemplateRecord(t.id(), t.name(), t.version(), t.description(), t.guestOs(), t.owner(),
                    t.state(), t.cpus(), t.memoryMiB(), t.nics(), t.sourceVmId(), t.sourceVmName(),
                    t.parentTemplateId(), t.createdAt(), t.qualifiedAt(), t.qualifiedBy(), t.retiredAt(),
                    t.retiredBy(), disks.get(t.id())));
        }
        return out;
    }

    private static TemplateRecord row(ResultSet rs) throws SQLException {
        List<TemplateRecord.Nic> nics;
        try {
            nics = Json.mapper().readValue(rs.getString("nics_json"), NICS);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored NICs of template " + rs.getString("id") + " are unreadable", e);
        }
        return new TemplateRecord(rs.getString("id"), rs.getString("name"), rs.getInt("version"),
                rs.getString("description"), rs.getString("guest_os"), rs.getString("owner"),
                TemplateState.parse(rs.getString("state")), rs.getInt("cpus"), rs.getInt("memory_mib"), nics,
                rs.getString("source_vm_id"), rs.getString("source_vm_name"), rs.getString("parent_template_id"),
                Sql.instant(rs, "created_at"), Sql.instant(rs, "qualified_at"), rs.getString("qualified_by"),
                Sql.instant(rs, "retired_at"), rs.getString("retired_by"), List.of());
    }
}
