package org.carevisor.protocol;

/** Constants of the manager-agent protocol: its version, the header that carries it and the path prefix. */
public final class Protocol {
    /** The protocol version both sides speak; a peer sending another version is refused. */
    public static final int VERSION = 1;
    /** Request and response header naming the protocol version. */
    public static final String VERSION_HEADER = "Carevisor-Protocol";
    /** Path prefix of every agent endpoint. */
    public static final String PREFIX = "/v" + VERSION;

    private Protocol() {
    }
}
