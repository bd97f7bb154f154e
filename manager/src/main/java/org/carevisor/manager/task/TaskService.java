package org.carevisor.manager.task;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.db.Sql;
import org.carevisor.manager.host.AgentCallException;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs long operations as tasks: persisted with phase and progress, one at a time per locked object
 * (e.g. a VM). Tasks that were running when the manager stopped are marked failed at the next start;
 * the reconcile loop then converges the desired state they had already recorded. Thread-safe.
 */
public final class TaskService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TaskService.class);
    /** The phase column's width (tasks.phase VARCHAR(128)): a longer phase is cut, never a failed task. */
    static final int MAX_PHASE = 128;

    /** The work of a task. */
    @FunctionalInterface
    public interface Body {
        void run(TaskContext ctx) throws Exception;
    }

    private final Jdbi jdbi;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Map<String, String> locks = new ConcurrentHashMap<>();
    private final Map<String, Context> running = new ConcurrentHashMap<>();

    public TaskService(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Marks tasks left unfinished by a previous manager process as failed; returns how many. */
    public int failInterrupted() {
        return jdbi.withHandle(h -> h.createUpdate("""
                UPDATE tasks SET state = 'failed', error_code = 'manager-restarted',
                  error_detail = 'the manager stopped while this task ran; the desired state it recorded is kept and the reconcile loop converges it',
                  finished_at = :now
                WHERE state IN ('queued', 'running')""").bind("now", Sql.ts(Instant.now())).execute());
    }

    /**
     * Starts a task. When {@code lockKey} is given and another task holds it, the request is refused with
     * 409 before anything is recorded.
     */
    public TaskRecord submit(String kind, TaskRecord.Target target, Actor actor, String lockKey, Body body) {
        String id = UUID.randomUUID().toString();
        if (lockKey != null) {
            String holder = locks.putIfAbsent(lockKey, id);
            if (holder != null) {
                TaskRecord other = find(holder).orElse(null);
                throw ApiException.conflict("busy", (target == null ? lockKey : target.type() + " " + target.name())
                        + " is busy with task " + holder + (other == null ? "" : " (" + other.kind() + ")")
                        + "; wait until it finishes (carevisor task wait " + holder + ", GET /api/v1/tasks/" + holder + ")");
            }
        }
        try {
            jdbi.useHandle(h -> h.createUpdate("""
                    INSERT INTO tasks (id, kind, target_type, target_id, target_name, state, progress, actor, created_at)
                    VALUES (:id, :kind, :tt, :tid, :tname, 'queued', 0, :actor, :now)""")
                    .bind("id", id).bind("kind", kind)
                    .bind("tt", target == null ? null : target.type())
                    .bind("tid", target == null ? null : target.id())
                    .bind("tname", target == null ? null : target.name())
                    .bind("actor", actor.name()).bind("now", Sql.ts(Instant.now())).execute());
        } catch (RuntimeException e) {
            if (lockKey != null) {
                locks.remove(lockKey, id);
            }
            throw e;
        }
        executor.execute(() -> run(id, kind, lockKey, body));
        return get(id);
    }

    /** True while a task holds the lock (the reconciler leaves such objects alone). */
    public boolean isLocked(String lockKey) {
        return locks.containsKey(lockKey);
    }

    private void run(String id, String kind, String lockKey, Body body) {
        update(id, "UPDATE tasks SET state = 'running', started_at = :now WHERE id = :id");
        Context ctx = new Context(id);
        running.put(id, ctx);
        try {
            try {
                body.run(ctx);
            } finally {
                // the body's work is over: the lock goes before the end is recorded, so a caller that waited for
                // the task to finish can submit the next one on this object at once and is never told "busy"
                if (lockKey != null) {
                    locks.remove(lockKey, id);
                }
            }
            jdbi.useHandle(h -> h.createUpdate("""
                    UPDATE tasks SET state = 'succeeded', progress = 100, finished_at = :now,
                      phase = 'done', message = COALESCE(:message, message) WHERE id = :id""")
                    .bind("id", id).bind("now", Sql.ts(Instant.now())).bind("message", ctx.result).execute());
        } catch (Throwable t) {
            String code;
            String detail;
            if (t instanceof ApiException a) {
                code = a.code();
                detail = a.getMessage();
            } else if (t instanceof org.carevisor.manager.DomainException a) {
                code = a.code();
                detail = a.getMessage();
            } else if (t instanceof AgentCallException a) {
                code = a.code();
                detail = a.getMessage();
            } else {
                // the exception's text (SQL, file names, stack) stays in the log, under an incident id
                String incident = UUID.randomUUID().toString();
                code = "internal-error";
                detail = "the task failed unexpectedly; the details are in the manager's log under incident "
                        + incident + " (give this id to the administrator)";
                LOG.error("incident {}: task {} ({}) failed", incident, id, kind, t);
            }
            jdbi.useHandle(h -> h.createUpdate("""
                    UPDATE tasks SET state = 'failed', finished_at = :now, error_code = :code, error_detail = :detail
                    WHERE id = :id""").bind("id", id).bind("now", Sql.ts(Instant.now())).bind("code", code)
                    .bind("detail", truncate(detail, 4000)).execute());
            LOG.info("task {} ({}) failed: {}", id, kind, detail);
        } finally {
            running.remove(id);
        }
    }

    /**
     * Asks a running task to stop; 409 when it has finished or cannot be cancelled (it would leave things
     * half-done). The task ends as "failed" with the code its work chooses (e.g. migration-cancelled).
     */
    public TaskRecord cancel(String id, Actor actor) {
        TaskRecord t = get(id);
        Context ctx = running.get(id);
        if (t.state().finished() || ctx == null) {
            throw ApiException.conflict("task-finished", "task " + id + " has already finished (" + t.state().json() + ")");
        }
        if (!ctx.cancellable) {
            throw ApiException.conflict("task-not-cancellable", "task " + id + " (" + t.kind()
                    + ") cannot be cancelled safely; wait for it to finish");
        }
        ctx.cancelRequested = true;
        LOG.info("task {} ({}): cancellation requested by {}", id, t.kind(), actor.name());
        return get(id);
    }

    private final class Context implements TaskContext {
        private final String id;
        private volatile String result;
        private volatile boolean cancellable;
        private volatile boolean cancelRequested;

        @Override
        public void cancellable() {
            cancellable = true;
        }

        @Override
        public boolean cancelRequested() {
            return cancelRequested;
        }

        Context(String id) {
            this.id = id;
        }

        @Override
        public String taskId() {
            return id;
        }

        @Override
        public void progress(int percent, String phase) {
            jdbi.useHandle(h -> h.createUpdate("UPDATE tasks SET progress = :p, phase = :phase WHERE id = :id")
                    .bind("p", Math.max(0, Math.min(99, percent))).bind("phase", truncate(phase, MAX_PHASE))
                    .bind("id", id).execute());
        }

        @Override
        public void message(String message) {
            result = truncate(message, 2000);
        }
    }

    private void update(String id, String sql) {
        jdbi.useHandle(h -> h.createUpdate(sql).bind("id", id).bind("now", Sql.ts(Instant.now())).execute());
    }

    public Optional<TaskRecord> find(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM tasks WHERE id = :id").bind("id", id)
                .map((rs, c) -> map(rs)).findOne());
    }

    public TaskRecord get(String id) {
        return find(id).orElseThrow(() -> ApiException.notFound("task", id));
    }

    /** Newest tasks first, optionally of one target only. */
    public List<TaskRecord> list(String targetId, int limit) {
        return list(targetId, org.carevisor.manager.auth.ScopeFilter.EVERYTHING, null, limit, 0);
    }

    /**
     * Newest tasks first of the objects in {@code scopes} (a task of a VM by the VM's current cluster, host and
     * id; of a host by its cluster and id; any other task - templates, deleted objects - only for the global
     * scope) and the tasks {@code startedBy} started (also of objects gone since), optionally of one target only;
     * filtered in SQL before {@code limit} and {@code offset}.
     */
    public List<TaskRecord> list(String targetId, org.carevisor.manager.auth.ScopeFilter scopes, String startedBy,
                                 int limit, int offset) {
        String visible = scopes.everything() ? "1 = 1" : "(t.target_type = 'vm' AND " + scopes.vmCondition("v")
                + " OR t.target_type = 'host' AND " + scopes.hostCondition("h")
                + (startedBy == null ? "" : " OR t.actor = :me") + ")";
        String sql = "SELECT t.* FROM tasks t"
                + " LEFT JOIN vms v ON t.target_type = 'vm' AND v.id = t.target_id"
                + " LEFT JOIN hosts h ON t.target_type = 'host' AND h.id = t.target_id"
                + " WHERE " + visible + (targetId == null ? "" : " AND t.target_id = :t")
                + " ORDER BY t.created_at DESC, t.id LIMIT :limit OFFSET :offset";
        return jdbi.withHandle(h -> scopes.bind(h.createQuery(sql)).bind("t", targetId).bind("me", startedBy)
                .bind("limit", limit)
                .bind("offset", offset).map((rs, c) -> map(rs)).list());
    }

    /** Waits until a task has finished (for callers that need the result synchronously). */
    public TaskRecord await(String id, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            TaskRecord t = get(id);
            if (t.state().finished() || System.nanoTime() > deadline) {
                return t;
            }
            Thread.sleep(50);
        }
    }

    private static TaskRecord map(java.sql.ResultSet rs) throws java.sql.SQLException {
        String errorCode = rs.getString("error_code");
        String targetType = rs.getString("target_type");
        return new TaskRecord(rs.getString("id"), rs.getString("kind"),
                targetType == null ? null : new TaskRecord.Target(targetType, rs.getString("target_id"),
                        rs.getString("target_name")),
                TaskState.valueOf(rs.getString("state").toUpperCase(java.util.Locale.ROOT)), rs.getString("phase"),
                rs.getInt("progress"), rs.getString("message"),
                errorCode == null ? null : new TaskRecord.TaskError(errorCode, rs.getString("error_detail")),
                rs.getString("actor"), Sql.instant(rs, "created_at"), Sql.instant(rs, "started_at"),
                Sql.instant(rs, "finished_at"));
    }

    private static String truncate(String s, int max) {
        return s == null || s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
