package org.carevisor.manager.site;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.carevisor.manager.db.Sql;
import org.jdbi.v3.core.Jdbi;

/** Site shutdowns, their steps, and the hosts they drained and switched off (schema versions 10 and 11). */
public final class SiteShutdownRepository {
    /** One site shutdown as persisted. */
    public record Shutdown(String id, String state, String phase, String trigger, String actor, String reason,
                           int vmTimeoutSeconds, boolean powerOffHosts, Instant startedAt, Instant finishedAt,
                           String detail) {
        public boolean running() {
            return state.equals("running");
        }
    }

    /** One step: a VM shut down or a host switched off, with its wave and outcome. */
    public record Step(int seq, String kind, String targetId, String targetName, int wave, String outcome,
                       String detail, Instant at) {
    }

    private final Jdbi jdbi;

    public SiteShutdownRepository(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    public void insert(Shutdown s) {
        jdbi.useHandle(h -> h.createUpdate("""
                INSERT INTO site_shutdowns (id, state, phase, trigger_kind, actor, reason, vm_timeout_s,
                  power_off_hosts, started_at)
                VALUES (:id, :state, :phase, :trigger, :actor, :reason, :timeout, :power, :started)""")
                .bind("id", s.id()).bind("state", s.state()).bind("phase", s.phase()).bind("trigger", s.trigger())
                .bind("actor", s.actor()).bind("reason", s.reason()).bind("timeout", s.vmTimeoutSeconds())
                .bind("power", s.powerOffHosts()).bind("started", Sql.ts(s.startedAt())).execute());
    }

    /**
     * Stores a cancel of a running shutdown that has not reached its point of no return; false when it has (or
     * ended, or was cancelled already).
     */
    public boolean requestCancel(String id, String actor) {
        return jdbi.withHandle(h -> h.createUpdate("UPDATE site_shutdowns SET cancelled_by = :actor WHERE id = :id"
                + " AND state = 'running' AND phase IN ('drain', 'stop-vms') AND cancelled_by IS NULL")
                .bind("id", id).bind("actor", actor).execute()) == 1;
    }

    /** Who cancelled the shutdown, if anyone. */
    public Optional<String> cancelledBy(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT cancelled_by FROM site_shutdowns WHERE id = :id")
                .bind("id", id).mapTo(String.class).findFirst());
    }

    /** Moves from one phase to the next unless a cancel is stored; false when cancelled. */
    public boolean advance(String id, String from, String to) {
        return jdbi.withHandle(h -> h.createUpdate("UPDATE site_shutdowns SET phase = :to WHERE id = :id"
                + " AND phase = :from AND cancelled_by IS NULL")
                .bind("id", id).bind("from", from).bind("to", to).execute()) == 1;
    }

    /** Records a host this shutdown made refuse VM starts. */
    public synchronized void drained(String id, String hostId) {
        if (!drainedHosts(id).contains(hostId)) {
            jdbi.useHandle(h -> h.createUpdate("INSERT INTO site_shutdown_drained (shutdown_id, host_id)"
                    + " VALUES (:id, :host)").bind("id", id).bind("host", hostId).execute());
        }
    }

    /** The hosts this shutdown made refuse VM starts. */
    public Set<String> drainedHosts(String id) {
        return Set.copyOf(jdbi.withHandle(h -> h.createQuery(
                "SELECT host_id FROM site_shutdown_drained WHERE shutdown_id = :id").bind("id", id)
                .mapTo(String.class).list()));
    }

    public void phase(String id, String phase) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE site_shutdowns SET phase = :phase WHERE id = :id")
                .bind("id", id).bind("phase", phase).execute());
    }

    public void finish(String id, String state, String detail) {
        jdbi.useHandle(h -> h.createUpdate("""
                UPDATE site_shutdowns SET state = :state, finished_at = :now, detail = :detail WHERE id = :id""")
                .bind("id", id).bind("state", state).bind("now", Sql.ts(Instant.now()))
                .bind("detail", detail == null ? null : detail.substring(0, Math.min(detail.length(), 2000)))
                .execute());
    }

    public void step(String id, String kind, String targetId, String targetName, int wave, String outcome,
                     String detail) {
        jdbi.useTransaction(h -> {
            int seq = h.createQuery("SELECT COALESCE(MAX(seq), 0) + 1 FROM site_shutdown_steps WHERE shutdown_id = :id")
                    .bind("id", id).mapTo(Integer.class).one();
            h.createUpdate("""
                    INSERT INTO site_shutdown_steps (shutdown_id, seq, kind, target_id, target_name, wave, outcome,
                      detail, done_at)
                    VALUES (:id, :seq, :kind, :target, :name, :wave, :outcome, :detail, :now)""")
                    .bind("id", id).bind("seq", seq).bind("kind", kind).bind("target", targetId)
                    .bind("name", targetName).bind("wave", wave).bind("outcome", outcome)
                    .bind("detail", detail == null ? null : detail.substring(0, Math.min(detail.length(), 2000)))
                    .bind("now", Sql.ts(Instant.now())).execute();
        });
    }

    public List<Step> steps(String id) {
        return jdbi.withHandle(h -> h.createQuery("""
                SELECT * FROM site_shutdown_steps WHERE shutdown_id = :id ORDER BY seq""").bind("id", id)
                .map((rs, c) -> new Step(rs.getInt("seq"), rs.getString("kind"), rs.getString("target_id"),
                        rs.getString("target_name"), rs.getInt("wave"), rs.getString("outcome"),
                        rs.getString("detail"), Sql.instant(rs, "done_at"))).list());
    }

    /** The latest site shutdown (running or not). */
    public Optional<Shutdown> latest() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM site_shutdowns ORDER BY started_at DESC, id")
                .setMaxRows(1).map((rs, c) -> new Shutdown(rs.getString("id"), rs.getString("state"),
                        rs.getString("phase"), rs.getString("trigger_kind"), rs.getString("actor"),
                        rs.getString("reason"), rs.getInt("vm_timeout_s"), rs.getBoolean("power_off_hosts"),
                        Sql.instant(rs, "started_at"), Sql.instant(rs, "finished_at"), rs.getString("detail")))
                .findFirst());
    }

    /** Marks a host switched off by a site shutdown (HA leaves it alone until it reports, accepting starts). */
    public synchronized void poweredOff(String hostId, boolean off) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE hosts SET powered_off_at = :at WHERE id = :id")
                .bind("id", hostId).bind("at", off ? Sql.ts(Instant.now()) : null).execute());
        poweredOff = load();
    }

    /**
     * The hosts a site shutdown switched off and that have not reported since (accepting VM starts). Kept in memory
     * (read on every report and every HA pass), loaded once and updated by {@link #poweredOff}.
     */
    public Set<String> poweredOffHosts() {
        Set<String> s = poweredOff;
        if (s == null) {
            synchronized (this) {
                if (poweredOff == null) {
                    poweredOff = load();
                }
                s = poweredOff;
            }
        }
        return s;
    }

    private volatile Set<String> poweredOff;

    private Set<String> load() {
        return Set.copyOf(jdbi.withHandle(h -> h.createQuery("SELECT id FROM hosts WHERE powered_off_at IS NOT NULL")
                .mapTo(String.class).list()));
    }
}
