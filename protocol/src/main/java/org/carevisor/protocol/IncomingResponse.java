package org.carevisor.protocol;

/**
 * A destination waiting for a live migration.
 *
 * @param uri    where the destination QEMU listens, {@code tcp:<its registered migration address>:<port of its
 *               migration range>}; the manager accepts nothing else and builds the source's URI itself
 * @param status the VM on the destination (state {@code incoming})
 */
public record IncomingResponse(String uri, VmStatus status) {
}
