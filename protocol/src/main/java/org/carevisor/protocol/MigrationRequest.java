package org.carevisor.protocol;

/**
 * Starts a live migration on the source host.
 *
 * @param uri                 where the destination QEMU listens: only {@code tcp:<address>:<port>} is accepted
 *                            ({@link MigrationUri})
 * @param maxBandwidthBytes   bandwidth limit in bytes per second (0: the manager's default is applied)
 * @param downtimeLimitMs     longest pause of the guest QEMU may plan for the final copy
 * @param autoConverge        slow the guest's vCPUs down when it dirties memory faster than it can be sent
 * @param tlsHostname         the name the destination's host certificate carries (its agent address, set at its
 *                            enrollment): the stream goes over TLS and the source QEMU accepts only a certificate
 *                            of the cluster's CA with this name ({@link HostAddress})
 */
public record MigrationRequest(String uri, long maxBandwidthBytes, long downtimeLimitMs, boolean autoConverge,
                               String tlsHostname) {
}
