package org.carevisor.manager.vm;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.carevisor.manager.db.Sql;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/** VM definitions (desired state) in the database. Thread-safe. */
public final class VmRepository {
    private final Jdbi jdbi;

    public VmRepository(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    public Jdbi jdbi() {
        return jdbi;
    }

    public void insert(Handle h, VmRecord vm) {
        h.createUpdate("""
                INSERT INTO vms (id, name, description, cpus, memory_mib, machine, cpu_model, host_id, power_state,
                                 lifecycle, spec_version, created_at, updated_at, power_changed_at, template_id,
                                 current_snapshot_id, archive_path, archived_at, cluster_id, last_migrated_at, gxp)
                VALUES (:id, :name, :description, :cpus, :memory, :machine, :cpuModel, :hostId, :power, :lifecycle,
                        :specVersion, :createdAt, :updatedAt, :powerChangedAt, :templateId, :currentSnapshot,
                        :archivePath, :archivedAt, :clusterId, :lastMigratedAt, :gxp)""")
                .bind("gxp", vm.gxp()).bind("clusterId", vm.clusterId()).bind("lastMigratedAt", Sql.ts(vm.lastMigratedAt()))
                .bind("id", vm.id()).bind("name", vm.name()).bind("description", vm.description())
                .bind("cpus", vm.cpus()).bind("memory", vm.memoryMiB()).bind("machine", vm.machine())
                .bind("cpuModel", vm.cpuModel()).bind("hostId", vm.hostId()).bind("power", vm.powerState().json())
                .bind("lifecycle", vm.lifecycle().json()).bind("specVersion", vm.specVersion())
                .bind("createdAt", Sql.ts(vm.createdAt())).bind("updatedAt", Sql.ts(vm.updatedAt()))
                .bind("powerChangedAt", Sql.ts(vm.powerChangedAt())).bind("templateId", vm.templateId())
                .bind("currentSnapshot", vm.currentSnapshotId()).bind("archivePath", vm.archivePath())
                .bind("archivedAt", Sql.ts(vm.archivedAt())).execute();
        for (VmRecord.Disk d : vm.disks()) {
            h.createUpdate("""
                    INSERT INTO vm_disks (vm_id, disk_id, position, path, format, size_bytes, source_image_id,
                                          base_template_id)
                    VALUES (:vm, :disk, :pos, :path, :format, :size, :image, :base)""")
                    .bind("vm", vm.id()).bind("disk", d.diskId()).bind("pos", d.position()).bind("path", d.path())
                    .bind("format", d.format()).bind("size", d.sizeBytes()).bind("image", d.sourceImageId())
                    .bind("base", d.baseTemplateId()).execute();
        }
        for (VmRecord.Nic n : vm.nics()) {
            h.createUpdate("""
                    INSERT INTO vm_nics (vm_id, nic_id, position, mac, network, ip)
                    VALUES (:vm, :nic, :pos, :mac, :net, :ip)""")
                    .bind("vm", vm.id()).bind("nic", n.nicId()).bind("pos", n.position()).bind("mac", n.mac())
                    .bind("net", n.network()).bind("ip", n.ip()).execute();
            for (VmRecord.Forward f : n.forwards()) {
                h.createUpdate("""
                        INSERT INTO vm_port_forwards (vm_id, nic_id, protocol, host_port, guest_port)
                        VALUES (:vm, :nic, :proto, :hp, :gp)""")
                        .bind("vm", vm.id()).bind("nic", n.nicId()).bind("proto", f.protocol())
                        .bind("hp", f.hostPort()).bind("gp", f.guestPort()).execute();
            }
        }
    }

    public Optional<VmRecord> find(String id) {
        return jdbi.withHandle(h -> find(h, id));
    }

    public Optional<VmRecord> find(Handle h, String id) {
        List<VmRecord> found = load(h, "WHERE id = :key", id);
        return found.isEmpty() ? Optional.empty() : Optional.of(found.get(0));
    }

    public Optional<VmRecord> findByName(String name) {
        return jdbi.withHandle(h -> {
            List<VmRecord> found = load(h, "WHERE name = :key", name);
            return found.isEmpty() ? Optional.<VmRecord>empty() : Optional.of(found.get(0));
        });
    }

    public List<VmRecord> list() {
        return jdbi.withHandle(h -> load(h, "", null));
    }

    public List<VmRecord> onHost(String hostId) {
        return jdbi.withHandle(h -> load(h, "WHERE host_id = :key", hostId));
    }

    private List<VmRecord> load(Handle h, String where, String key) {
        Map<String, Row> rows = new LinkedHashMap<>();
        h.createQuery("SELECT * FROM vms " + where + " ORDER BY name").bind("key", key)
                .map((rs, c) -> row(rs)).forEach(r -> rows.put(r.id, r));
        if (rows.isEmpty()) {
            return List.of();
        }
        String in = " WHERE vm_id IN (<ids>)";
        h.createQuery("SELECT * FROM vm_disks" + in + " ORDER BY position").bindList("ids", List.copyOf(rows.keySet()))
                .map((rs, c) -> {
                    rows.get(rs.getString("vm_id")).disks.add(new VmRecord.Disk(rs.getString("disk_id"),
                            rs.getInt("position"), rs.getString("path"), rs.getString("format"),
                            rs.getLong("size_bytes"), rs.getString("source_image_id"),
                            rs.getString("base_template_id")));
                    return 0;
                }).list();
        Map<String, List<VmRecord.Forward>> forwards = new LinkedHashMap<>();
        h.createQuery("SELECT * FROM vm_port_forwards" + in + " ORDER BY host_port")
                .bindList("ids", List.copyOf(rows.keySet()))
                .map((rs, c) -> forwards.computeIfAbsent(rs.getString("vm_id") + "/" + rs.getString("nic_id"),
                        k -> new ArrayList<>()).add(new VmRecord.Forward(rs.getString("protocol"),
                        rs.getInt("host_port"), rs.getInt("guest_port")))).list();
        h.createQuery("SELECT n.*, w.kind AS net_kind, w.bridge AS net_bridge, w.cidr AS net_cidr,"
                        + " w.gateway AS net_gateway FROM vm_nics n LEFT JOIN networks w ON w.name = n.network"
                        + " WHERE n.vm_id IN (<ids>) ORDER BY n.position").bindList("ids", List.copyOf(rows.keySet()))
                .map((rs, c) -> {
                    String vm = rs.getString("vm_id");
                    String nic = rs.getString("nic_id");
                    String cidr = rs.getString("net_cidr");
                    Integer prefix = cidr == null || !cidr.contains("/") ? null
                            : Integer.valueOf(cidr.substring(cidr.indexOf('/') + 1));
                    rows.get(vm).nics.add(new VmRecord.Nic(nic, rs.getInt("position"), rs.getString("mac"),
                            rs.getString("network"), forwards.getOrDefault(vm + "/" + nic, List.of()),
                            rs.getString("ip"), rs.getString("net_kind"), rs.getString("net_bridge"), prefix,
                            rs.getString("net_gateway")));
                    return 0;
                }).list();
        return rows.values().stream().map(Row::toRecord).toList();
    }

    private static final class Row {
        String id;
        String name;
        String description;
        int cpus;
        int memory;
        String machine;
        String cpuModel;
        String hostId;
        PowerState power;
        Lifecycle lifecycle;
        long specVersion;
        Instant createdAt;
        Instant updatedAt;
        Instant powerChangedAt;
        String templateId;
        String currentSnapshotId;
        String archivePath;
        Instant archivedAt;
        String clusterId;
        Instant lastMigratedAt;
        boolean gxp;
        final List<VmRecord.Disk> disks = new ArrayList<>();
        final List<VmRecord.Nic> nics = new ArrayList<>();

        VmRecord toRecord() {
            return new VmRecord(id, name, description, cpus, memory, machine, cpuModel, hostId, power, lifecycle,
                    specVersion, createdAt, updatedAt, powerChangedAt, disks, nics, templateId, currentSnapshotId,
                    archivePath, archivedAt, clusterId, lastMigratedAt, gxp);
        }
    }

    private static Row row(ResultSet rs) throws SQLException {
        Row r = new Row();
        r.id = rs.getString("id");
        r.name = rs.getString("name");
        r.description = rs.getString("description");
        r.cpus = rs.getInt("cpus");
        r.memory = rs.getInt("memory_mib");
        r.machine = rs.getString("machine");
        r.cpuModel = rs.getString("cpu_model");
        r.hostId = rs.getString("host_id");
        r.gxp = rs.getBoolean("gxp");
        r.power = PowerState.parse(rs.getString("power_state"));
        r.lifecycle = Lifecycle.parse(rs.getString("lifecycle"));
        r.specVersion = rs.getLong("spec_version");
        r.createdAt = Sql.instant(rs, "created_at");
        r.updatedAt = Sql.instant(rs, "updated_at");
        r.powerChangedAt = Sql.instant(rs, "power_changed_at");
        r.templateId = rs.getString("template_id");
        r.currentSnapshotId = rs.getString("current_snapshot_id");
        r.archivePath = rs.getString("archive_path");
        r.archivedAt = Sql.instant(rs, "archived_at");
        r.clusterId = rs.getString("cluster_id");
        r.lastMigratedAt = Sql.instant(rs, "last_migrated_at");
        return r;
    }

    public void setPower(Handle h, String id, PowerState state, Instant at) {
        h.createUpdate("UPDATE vms SET power_state = :p, power_changed_at = :at, updated_at = :at WHERE id = :id")
                .bind("p", state.json()).bind("at", Sql.ts(at)).bind("id", id).execute();
    }

    /** Moves the VM's record to another host (a placement at start, or the hand-over of a live migration). */
    public void setHost(Handle h, String id, String hostId, boolean migrated) {
        Instant now = Instant.now();
        h.createUpdate("UPDATE vms SET host_id = :host, updated_at = :at"
                        + (migrated ? ", last_migrated_at = :at" : "") + " WHERE id = :id")
                .bind("host", hostId).bind("at", Sql.ts(now)).bind("id", id).execute();
    }

    /** Marks the VM as GxP-relevant (changes need a reason; deleting and archiving need a signature) or not. */
    public void setGxp(Handle h, String id, boolean gxp) {
        h.createUpdate("UPDATE vms SET gxp = :g, updated_at = :at WHERE id = :id").bind("g", gxp)
                .bind("at", Sql.ts(Instant.now())).bind("id", id).execute();
    }

    /** Records the CPU model the VM is started with (its cluster's baseline at that moment). */
    public void setCpuModel(Handle h, String id, String cpuModel) {
        h.createUpdate("UPDATE vms SET cpu_model = :m, spec_version = spec_version + 1 WHERE id = :id AND cpu_model <> :m")
                .bind("m", cpuModel).bind("id", id).execute();
    }

    public void setLifecycle(Handle h, String id, Lifecycle lifecycle) {
        h.createUpdate("UPDATE vms SET lifecycle = :l, updated_at = :at WHERE id = :id")
                .bind("l", lifecycle.json()).bind("at", Sql.ts(Instant.now())).bind("id", id).execute();
    }

    public void updateConfig(Handle h, String id, String name, String description, int cpus, int memoryMiB) {
        h.createUpdate("""
                UPDATE vms SET name = :name, description = :d, cpus = :cpus, memory_mib = :m,
                  spec_version = spec_version + 1, updated_at = :at WHERE id = :id""")
                .bind("name", name).bind("d", description).bind("cpus", cpus).bind("m", memoryMiB)
                .bind("at", Sql.ts(Instant.now())).bind("id", id).execute();
    }

    /** The VM's definition after a snapshot revert: its vCPUs and memory as they were at the snapshot. */
    public void setSize(Handle h, String id, int cpus, int memoryMiB) {
        h.createUpdate("""
                UPDATE vms SET cpus = :cpus, memory_mib = :m, spec_version = spec_version + 1, updated_at = :at
                WHERE id = :id""").bind("cpus", cpus).bind("m", memoryMiB).bind("at", Sql.ts(Instant.now()))
                .bind("id", id).execute();
    }

    public void setCurrentSnapshot(Handle h, String id, String snapshotId) {
        h.createUpdate("UPDATE vms SET current_snapshot_id = :s WHERE id = :id").bind("s", snapshotId).bind("id", id)
                .execute();
    }

    /** Marks a VM archived (its disks now live in {@code archivePath}) or, with nulls, restored. */
    public void setArchive(Handle h, String id, Lifecycle lifecycle, String archivePath, Instant archivedAt) {
        h.createUpdate("""
                UPDATE vms SET lifecycle = :l, archive_path = :p, archived_at = :at, updated_at = :now WHERE id = :id""")
                .bind("l", lifecycle.json()).bind("p", archivePath).bind("at", Sql.ts(archivedAt))
                .bind("now", Sql.ts(Instant.now())).bind("id", id).execute();
    }

    /** Names of the VMs whose disks are linked clones of the template. */
    public List<String> linkedCloneNames(String templateId) {
        return jdbi.withHandle(h -> h.createQuery("""
                SELECT DISTINCT v.name FROM vms v JOIN vm_disks d ON d.vm_id = v.id
                WHERE d.base_template_id = :t ORDER BY v.name""").bind("t", templateId).mapTo(String.class).list());
    }

    public void delete(Handle h, String id) {
        for (String table : List.of("snapshots", "vm_port_forwards", "vm_nics", "vm_disks", "vm_observed",
                "placement_rule_vms")) {
            h.createUpdate("DELETE FROM " + table + " WHERE vm_id = :id").bind("id", id).execute();
        }
        h.createUpdate("DELETE FROM vms WHERE id = :id").bind("id", id).execute();
    }

    public boolean nameTaken(String name, String exceptId) {
        return jdbi.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM vms WHERE name = :n AND id <> :id")
                .bind("n", name).bind("id", exceptId == null ? "" : exceptId).mapTo(Integer.class).one() > 0);
    }

    public Set<Integer> usedHostPorts(String protocol) {
        return new HashSet<>(jdbi.withHandle(h -> h.createQuery(
                "SELECT host_port FROM vm_port_forwards WHERE protocol = :p").bind("p", protocol)
                .mapTo(Integer.class).list()));
    }

    public Set<String> usedMacs() {
        return new HashSet<>(jdbi.withHandle(h -> h.createQuery("SELECT mac FROM vm_nics").mapTo(String.class).list()));
    }
}
