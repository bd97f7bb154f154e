package org.carevisor.protocol;

/**
 * The manager's answer to an enrollment: the host's certificate and the CA it must trust from now on.
 *
 * @param hostId         the host id the certificate is for (CN {@code host:<id>})
 * @param certificatePem the host's certificate
 * @param caPem          the Carevisor CA certificate
 */
public record EnrollResponse(String hostId, String certificatePem, String caPem) {
}
