package org.carevisor.protocol;

import java.util.regex.Pattern;

/**
 * Prepares the destination of a live migration: QEMU starts paused and waits for the source.
 *
 * @param spec         the VM's spec (identical to the source's, apart from host-specific addresses)
 * @param sourceHostId the host the stream comes from: the destination QEMU accepts the TLS connection of the
 *                     migration stream only from a client certificate of this host ({@code CN=host:<id>}); a
 *                     lower-case UUID, as the manager assigns host ids
 */
public record IncomingRequest(VmSpec spec, String sourceHostId) {
    private static final Pattern HOST_ID = Pattern.compile(
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    /** True when {@code id} has the form of a host id the manager assigns (a lower-case UUID). */
    public static boolean validHostId(String id) {
        return id != null && HOST_ID.matcher(id).matches();
    }
}
