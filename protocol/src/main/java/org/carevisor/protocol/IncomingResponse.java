package org.carevisor.protocol;

/**
 * A destination waiting for a live migration.
 *
 * @param uri    where the source must send the migration stream, e.g. {@code tcp:10.77.0.12:49152}
 * @param status the VM on the destination (state {@code incoming})
 */
public record IncomingResponse(String uri, VmStatus status) {
}
