package org.carevisor.manager.vm;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.carevisor.manager.db.Sql;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.jdbi.v3.core.Jdbi;

/**
 * Observed VM state as the agents report it: kept in memory for every report, written to the database
 * only when it changes, and loaded from there at start so that a restarted manager knows the last state
 * before the first report arrives. Thread-safe.
 */
public final class ObservedStore {
    /** What a host last said about a VM: in a report, or in a direct answer to a call of the manager. */
    public record Observed(String hostId, VmStatus status, Instant receivedAt, boolean fromReport) {
    }

    private final Jdbi jdbi;
    private final Map<String, Observed> observed = new ConcurrentHashMap<>();

    public ObservedStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Loads the last persisted observations (at manager start). */
    public void load() {
        jdbi.useHandle(h -> h.createQuery("SELECT * FROM vm_observed").map((rs, c) -> {
            String cause = rs.getString("stop_cause");
            VmStatus s = new VmStatus(rs.getString("vm_id"), VmState.valueOf(rs.getString("state")
                    .toUpperCase(java.util.Locale.ROOT)), rs.getString("reason"),
                    cause == null ? null : StopCause.valueOf(cause.toUpperCase(java.util.Locale.ROOT).replace('-', '_')),
                    Sql.longOrNull(rs, "pid"), Sql.instant(rs, "since"), Sql.instant(rs, "started_at"),
                    Sql.intOrNull(rs, "exit_code"), List.of(), 0);
            return new Observed(rs.getString("host_id"), s, Sql.instant(rs, "observed_at"), true);
        }).forEach(o -> observed.put(o.status().vmId(), o)));
    }

    /** Every VM's latest observation (a snapshot). */
    public List<Observed> all() {
        return List.copyOf(observed.values());
    }

    public Optional<Observed> get(String vmId) {
        return Optional.ofNullable(observed.get(vmId));
    }

    /**
     * Stores a host's direct answer about a VM (to a start, a stop, a migration step) and returns the previous
     * observation; persists it when something meaningful changed. Reports go through {@link #putReported}.
     */
    public Optional<Observed> put(String hostId, VmStatus status) {
        Observed next = new Observed(hostId, status, Instant.now(), false);
        Observed previous = observed.put(status.vmId(), next);
        if (previous == null || changed(previous, next)) {
            persist(status.vmId());
        }
        return Optional.ofNullable(previous);
    }

    /** The answer to {@link #putReported}: whether the report's news was stored, and what was there before. */
    public record Reported(boolean stored, Optional<Observed> before) {
    }

    /**
     * Stores what a host's report says unless the manager learned newer news about the VM from that host's direct
     * answer (to a start, a resume after a failed migration...) after the report's VMs were looked at: such a
     * report must not undo it (an earlier report's news never holds a later report back). Check and store are one
     * atomic step, so a direct answer that arrives while a report is ingested either wins or is overwritten by
     * something newer, never by the older report.
     *
     * <p>A report is older news when the answer was received after the report arrived at the manager (it waited in
     * the manager, e.g. behind another report of its host), or after the agent took it, by the agents' clock, within
     * {@link #DIRECT_ANSWER_WINS} (it was on its way while the answer was received).
     *
     * @param takenAt   when the agent looked at its VMs for the report (agent clock); may be null
     * @param arrivedAt when the report arrived at the manager (manager clock); may be null
     */
    public Reported putReported(String hostId, VmStatus status, Instant takenAt, Instant arrivedAt) {
        Observed[] previous = new Observed[1];
        Observed[] next = new Observed[1]; // stays null when the answer is newer and the report is not stored
        observed.compute(status.vmId(), (id, o) -> {
            previous[0] = o;
            boolean answerIsNewer = o != null && !o.fromReport() && hostId.equals(o.hostId())
                    && (arrivedAt != null && o.receivedAt().isAfter(arrivedAt)
                    || takenAt != null && o.receivedAt().isAfter(takenAt)
                    && o.receivedAt().isBefore(takenAt.plus(DIRECT_ANSWER_WINS)));
            if (answerIsNewer) {
                return o;
            }
            next[0] = new Observed(hostId, status, Instant.now(), true);
            return next[0];
        });
        boolean stored = next[0] != null;
        if (stored && (previous[0] == null || changed(previous[0], next[0]))) {
            persist(status.vmId());
        }
        return new Reported(stored, Optional.ofNullable(previous[0]));
    }

    /**
     * How long after a report was taken a direct answer counts as newer news than the report (beyond it, the
     * clocks of agent and manager are assumed to differ and the report is taken).
     */
    static final java.time.Duration DIRECT_ANSWER_WINS = java.time.Duration.ofSeconds(5);

    public void remove(String vmId) {
        observed.remove(vmId);
    }

    private static boolean changed(Observed a, Observed b) {
        VmStatus x = a.status();
        VmStatus y = b.status();
        return !Objects.equals(a.hostId(), b.hostId()) || x.state() != y.state() || !Objects.equals(x.reason(), y.reason())
                || x.cause() != y.cause() || !Objects.equals(x.pid(), y.pid()) || !Objects.equals(x.since(), y.since());
    }

    /**
     * Writes the VM's latest observation: its row is updated, or inserted when there is none yet. A start's answer
     * and the host's report for a VM seen for the first time may both find no row; the one whose insert meets the
     * other's row (a duplicate key) updates it instead. No Java lock is held around the database: a caller may hold
     * a pooled connection or a row lock itself.
     */
    private void persist(String vmId) {
        for (int attempt = 1; ; attempt++) {
            Observed o = observed.get(vmId);
            if (o == null) {
                return;
            }
            try {
                write(o);
                return;
            } catch (org.jdbi.v3.core.statement.UnableToExecuteStatementException e) {
                if (attempt >= 3 || !duplicateKey(e)) {
                    throw e;
                }
            }
        }
    }

    private static boolean duplicateKey(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.sql.SQLException sql && "23505".equals(sql.getSQLState())) {
                return true; // unique violation, in H2 and PostgreSQL alike
            }
        }
        return false;
    }

    private void write(Observed o) {
        VmStatus s = o.status();
        jdbi.useHandle(h -> {
            boolean exists = h.createQuery("SELECT COUNT(*) FROM vms WHERE id = :id").bind("id", s.vmId())
                    .mapTo(Integer.class).one() > 0;
            if (!exists) {
                return;
            }
            int n = h.createUpdate("""
                    UPDATE vm_observed SET host_id = :host, state = :state, reason = :reason, stop_cause = :cause,
                      pid = :pid, since = :since, started_at = :started, exit_code = :exit, observed_at = :at
                    WHERE vm_id = :vm""").bindMap(values(o)).execute();
            if (n == 0) {
                h.createUpdate("""
                        INSERT INTO vm_observed (vm_id, host_id, state, reason, stop_cause, pid, since, started_at,
                                                 exit_code, observed_at)
                        VALUES (:vm, :host, :state, :reason, :cause, :pid, :since, :started, :exit, :at)""")
                        .bindMap(values(o)).execute();
            }
        });
    }

    private static Map<String, Object> values(Observed o) {
        VmStatus s = o.status();
        Map<String, Object> m = new java.util.HashMap<>();
        m.put("vm", s.vmId());
        m.put("host", o.hostId());
        m.put("state", s.state().json());
        m.put("reason", s.reason() == null ? null : s.reason().length() > 2000 ? s.reason().substring(0, 2000)
                : s.reason());
        m.put("cause", s.cause() == null ? null : s.cause().json());
        m.put("pid", s.pid());
        m.put("since", Sql.ts(s.since()));
        m.put("started", Sql.ts(s.startedAt()));
        m.put("exit", s.exitCode());
        m.put("at", Sql.ts(o.receivedAt()));
        return m;
    }
}
