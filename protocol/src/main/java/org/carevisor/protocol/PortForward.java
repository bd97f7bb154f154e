package org.carevisor.protocol;

/**
 * A host port forwarded to a guest port.
 *
 * @param protocol    {@code tcp} or {@code udp}
 * @param hostAddress host address to listen on (filled in by the agent when empty)
 * @param hostPort    host port
 * @param guestPort   guest port
 */
public record PortForward(String protocol, String hostAddress, int hostPort, int guestPort) {
    public PortForward {
        protocol = protocol == null ? "tcp" : protocol;
    }

    /** The same forward listening on the given address. */
    public PortForward withHostAddress(String address) {
        return new PortForward(protocol, address, hostPort, guestPort);
    }
}
