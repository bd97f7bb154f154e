package org.carevisor.protocol;

/**
 * Progress of a live migration as QEMU reports it ({@code query-migrate}) on the source host.
 *
 * @param vmId              VM id
 * @param status            QEMU's migration status: {@code none}, {@code setup}, {@code active},
 *                          {@code device}, {@code completed}, {@code failed}, {@code cancelling},
 *                          {@code cancelled} ...
 * @param totalBytes        guest RAM in bytes
 * @param transferredBytes  RAM bytes sent so far
 * @param remainingBytes    RAM bytes still to send in this pass
 * @param dirtyPagesRate    pages the guest dirties per second
 * @param passes            completed passes over the guest's memory (dirty-sync count)
 * @param expectedDowntimeMs downtime QEMU expects for the final copy at the current rate
 * @param downtimeMs        the guest's real pause during the final copy (after completion)
 * @param totalTimeMs       time since the migration began
 * @param setupTimeMs       time spent in setup
 * @param throttlePercent   CPU throttle applied by auto-converge
 * @param error             QEMU's error description when it failed
 * @param vm                the VM as the agent sees it now
 */
public record MigrationStatus(String vmId, String status, long totalBytes, long transferredBytes, long remainingBytes,
                              long dirtyPagesRate, long passes, Long expectedDowntimeMs, Long downtimeMs,
                              Long totalTimeMs, Long setupTimeMs, int throttlePercent, String error, VmStatus vm) {
    /** True once QEMU has ended the migration one way or the other. */
    public boolean finished() {
        return switch (status) {
            case "completed", "failed", "cancelled", "none" -> true;
            default -> false;
        };
    }
}
