package org.carevisor.manager.ha;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.carevisor.manager.db.Sql;
import org.carevisor.manager.secrets.SealedColumns;
import org.carevisor.manager.secrets.SecretBox;
import org.carevisor.manager.secrets.SecretsException;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * HA settings of VMs, clusters and hosts, and the HA engine's durable state, in the database. BMC passwords are
 * stored sealed ({@link SecretBox}, AES-256-GCM) and opened only when read. Thread-safe.
 */
public final class HaRepository {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(HaRepository.class);
    private final Jdbi jdbi;
    private final SecretBox secrets;

    public HaRepository(Jdbi jdbi, SecretBox secrets) {
        this.jdbi = jdbi;
        this.secrets = secrets;
    }

    public Jdbi jdbi() {
        return jdbi;
    }

    // ---- VMs

    public Optional<VmHa> vm(String vmId) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM vm_ha WHERE vm_id = :id").bind("id", vmId)
                .map((rs, c) -> mapVm(rs)).findOne());
    }

    /** Every VM's settings by VM id (VMs without a row are not listed). */
    public Map<String, VmHa> vms() {
        Map<String, VmHa> out = new HashMap<>();
        jdbi.useHandle(h -> h.createQuery("SELECT * FROM vm_ha").map((rs, c) -> {
            out.put(rs.getString("vm_id"), mapVm(rs));
            return null;
        }).list());
        return out;
    }

    public void putVm(Handle h, String vmId, VmHa ha) {
        h.createUpdate("DELETE FROM vm_ha WHERE vm_id = :id").bind("id", vmId).execute();
        h.createUpdate("""
                INSERT INTO vm_ha (vm_id, enabled, priority, depends_on, health_check, health_interval_s,
                  health_failures, max_restarts_per_hour, updated_at)
                VALUES (:id, :enabled, :priority, :deps, :check, :interval, :failures, :max, :at)""")
                .bind("id", vmId).bind("enabled", ha.enabled()).bind("priority", ha.priority())
                .bind("deps", String.join(",", ha.dependsOn())).bind("check", ha.healthCheck())
                .bind("interval", ha.healthIntervalSeconds()).bind("failures", ha.healthFailures())
                .bind("max", ha.maxRestartsPerHour()).bind("at", Sql.ts(Sql.now())).execute();
    }

    private static VmHa mapVm(ResultSet rs) throws SQLException {
        String deps = rs.getString("depends_on");
        return new VmHa(rs.getBoolean("enabled"), rs.getInt("priority"),
                deps == null || deps.isEmpty() ? List.of() : Arrays.asList(deps.split(",")),
                rs.getString("health_check"), rs.getInt("health_interval_s"), rs.getInt("health_failures"),
                rs.getInt("max_restarts_per_hour"));
    }

    // ---- clusters

    public ClusterHa cluster(String clusterId) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM cluster_ha WHERE cluster_id = :id")
                .bind("id", clusterId).map((rs, c) -> new ClusterHa(rs.getBoolean("admission_control"),
                        rs.getString("isolation_response"))).findOne()).orElse(ClusterHa.defaults());
    }

    public void putCluster(Handle h, String clusterId, ClusterHa ha) {
        h.createUpdate("DELETE FROM cluster_ha WHERE cluster_id = :id").bind("id", clusterId).execute();
        h.createUpdate("""
                INSERT INTO cluster_ha (cluster_id, admission_control, isolation_response, updated_at)
                VALUES (:id, :admission, :isolation, :at)""").bind("id", clusterId)
                .bind("admission", ha.admissionControl()).bind("isolation", ha.isolationResponse())
                .bind("at", Sql.ts(Sql.now())).execute();
    }

    // ---- hosts

    /**
     * A host's fence settings with the BMC password opened; a stored password that does not open (key file
     * replaced, value changed in the database) throws {@link SecretsException} naming the key file.
     */
    public Optional<FenceConfig> fence(String hostId) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM host_fence WHERE host_id = :id").bind("id", hostId)
                .map((rs, c) -> mapFence(rs, true)).findOne());
    }

    /**
     * Fence settings of every host that has some, by host id. For the HA engine's overview: a password that does
     * not open is left out (null, logged) here; {@link #fence} names the problem when the host is fenced.
     */
    public Map<String, FenceConfig> fences() {
        Map<String, FenceConfig> out = new HashMap<>();
        jdbi.useHandle(h -> h.createQuery("SELECT * FROM host_fence").map((rs, c) -> {
            out.put(rs.getString("host_id"), mapFence(rs, false));
            return null;
        }).list());
        return out;
    }

    /** Stores (or with {@code null}, removes) a host's fence settings. */
    public void putFence(Handle h, String hostId, FenceConfig f) {
        h.createUpdate("DELETE FROM host_fence WHERE host_id = :id").bind("id", hostId).execute();
        if (f == null) {
            return;
        }
        h.createUpdate("""
                INSERT INTO host_fence (host_id, kind, address, username, secret, target, ca_pem, updated_at)
                VALUES (:id, :kind, :address, :username, :secret, :target, :ca, :at)""").bind("id", hostId)
                .bind("kind", f.kind()).bind("address", f.address()).bind("username", f.username())
                .bind("secret", secrets.seal(SealedColumns.HOST_FENCE_SECRET.where(hostId), f.secret()))
                .bind("target", f.target()).bind("ca", f.caPem())
                .bind("at", Sql.ts(Sql.now())).execute();
    }

    private FenceConfig mapFence(ResultSet rs, boolean strict) throws SQLException {
        String hostId = rs.getString("host_id");
        String secret;
        try {
            secret = secrets.open(SealedColumns.HOST_FENCE_SECRET.where(hostId), rs.getString("secret"));
        } catch (SecretsException e) {
            if (strict) {
                throw e;
            }
            LOG.error("the BMC password of host {} cannot be read: {}", hostId, e.getMessage());
            secret = null;
        }
        return new FenceConfig(rs.getString("kind"), rs.getString("address"), rs.getString("username"), secret,
                rs.getString("target"), rs.getString("ca_pem"));
    }

    // ---- engine state

    public Optional<String> engineState() {
        return jdbi.withHandle(h -> h.createQuery("SELECT state_json FROM ha_state WHERE id = 1").mapTo(String.class)
                .findOne());
    }

    public void saveEngineState(String json) {
        jdbi.useTransaction(h -> {
            int n = h.createUpdate("UPDATE ha_state SET state_json = :s, updated_at = :at WHERE id = 1")
                    .bind("s", json).bind("at", Sql.ts(Sql.now())).execute();
            if (n == 0) {
                h.createUpdate("INSERT INTO ha_state (id, state_json, updated_at) VALUES (1, :s, :at)")
                        .bind("s", json).bind("at", Sql.ts(Sql.now())).execute();
            }
        });
    }
}
