package org.carevisor.manager.migration;

import java.time.Instant;

/**
 * One live migration as recorded. The phase is written before each step:
 * {@code preparing} (destination QEMU starting) -> {@code transferring} (memory being copied; the guest runs
 * on the source) -> {@code switching-over} (copy complete, the destination is being activated) ->
 * {@code handed-over} (the guest runs on the destination; the source QEMU is being ended) -> {@code completed};
 * or {@code failed} / {@code cancelled} (the guest runs on the source), or {@code in-doubt} (the activation's
 * answer was lost; resolved by asking the destination).
 */
public record MigrationRecord(String id, String vmId, String vmName, String sourceHostId, String destHostId,
                              String phase, String purpose, String taskId, String actor, String incomingUri,
                              int bandwidthMiBps, int downtimeLimitMs, boolean autoConverge, Instant startedAt,
                              Instant finishedAt, Long downtimeMs, Long totalMs, Long transferredBytes, Long passes,
                              String error) {
    public static final String PREPARING = "preparing";
    public static final String TRANSFERRING = "transferring";
    public static final String SWITCHING_OVER = "switching-over";
    public static final String IN_DOUBT = "in-doubt";
    public static final String HANDED_OVER = "handed-over";
    public static final String COMPLETED = "completed";
    public static final String FAILED = "failed";
    public static final String CANCELLED = "cancelled";

    /** True while the migration has not reached an end state. */
    public boolean open() {
        return !phase.equals(COMPLETED) && !phase.equals(FAILED) && !phase.equals(CANCELLED);
    }
}
