package org.carevisor.qemu;

import java.time.Duration;
import java.util.Map;

/**
 * How long each QMP command may take before the caller gives up, with the reason for each limit.
 * A limit is about QEMU answering the command, not about the guest's reaction to it.
 */
public final class QmpTimeouts {
    /** A time limit and why it is that long. */
    public record Limit(Duration timeout, String reason) {
    }

    private static final Limit DEFAULT = new Limit(Duration.ofSeconds(30),
            "a command without its own entry gets a generous limit; add an entry when it is used");

    private static final Map<String, Limit> LIMITS = Map.ofEntries(
            Map.entry("qmp_capabilities", limit(5, "the handshake is answered at once by the monitor thread")),
            Map.entry("query-status", limit(5, "reads the run state; never waits for the guest")),
            Map.entry("query-version", limit(5, "returns constant data")),
            Map.entry("query-name", limit(5, "returns constant data")),
            Map.entry("query-uuid", limit(5, "returns constant data")),
            Map.entry("query-kvm", limit(5, "returns constant data")),
            Map.entry("query-cpus-fast", limit(5, "does not interrupt vCPUs")),
            Map.entry("query-block", limit(10, "may wait for the block layer's lock while I/O is in flight")),
            Map.entry("query-migrate", limit(5, "reads migration counters")),
            Map.entry("system_powerdown", limit(5, "only injects the ACPI power button; the guest reacts later")),
            Map.entry("system_reset", limit(10, "resets devices; the guest boots again asynchronously")),
            Map.entry("stop", limit(15, "waits until every vCPU has left guest code; TCG vCPUs can be slow to stop")),
            Map.entry("cont", limit(15, "may reopen images that were inactive after a migration")),
            Map.entry("quit", limit(15, "drains and flushes disk I/O before exiting")),
            Map.entry("migrate", limit(10, "only starts the migration; progress is polled")),
            Map.entry("migrate_cancel", limit(10, "only requests cancellation")),
            Map.entry("migrate-incoming", limit(5, "only opens the listening socket")),
            Map.entry("migrate-set-capabilities", limit(5, "sets flags")),
            Map.entry("migrate-set-parameters", limit(5, "sets parameters")),
            Map.entry("query-jobs", limit(5, "reads job states")),
            Map.entry("job-dismiss", limit(5, "removes a concluded job")),
            Map.entry("snapshot-save", limit(10, "only starts the job; its progress is polled")),
            Map.entry("snapshot-load", limit(10, "only starts the job; its progress is polled")),
            Map.entry("snapshot-delete", limit(10, "only starts the job; its progress is polled")),
            Map.entry("transaction", limit(30,
                    "internal disk snapshots of all disks at once; writes qcow2 metadata of every disk")),
            Map.entry("human-monitor-command", limit(120,
                    "HMP savevm/loadvm run synchronously and copy guest memory to disk")));

    private QmpTimeouts() {
    }

    private static Limit limit(int seconds, String reason) {
        return new Limit(Duration.ofSeconds(seconds), reason);
    }

    /** The limit for a command. */
    public static Limit forCommand(String command) {
        return LIMITS.getOrDefault(command, DEFAULT);
    }
}
