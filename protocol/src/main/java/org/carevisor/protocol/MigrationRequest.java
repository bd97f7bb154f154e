package org.carevisor.protocol;

/**
 * Starts a live migration on the source host.
 *
 * @param uri                 where the destination QEMU listens, e.g. {@code tcp:10.77.0.12:49152}
 * @param maxBandwidthBytes   bandwidth limit in bytes per second (0: the manager's default is applied)
 * @param downtimeLimitMs     longest pause of the guest QEMU may plan for the final copy
 * @param autoConverge        slow the guest's vCPUs down when it dirties memory faster than it can be sent
 */
public record MigrationRequest(String uri, long maxBandwidthBytes, long downtimeLimitMs, boolean autoConverge) {
}
