package org.carevisor.protocol;

/**
 * Prepares the destination of a live migration: QEMU starts paused and waits for the source.
 *
 * @param spec the VM's spec (identical to the source's, apart from host-specific addresses)
 */
public record IncomingRequest(VmSpec spec) {
}
