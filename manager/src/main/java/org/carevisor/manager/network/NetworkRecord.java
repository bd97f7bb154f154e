package org.carevisor.manager.network;

import java.time.Instant;

/**
 * A VM network. {@code user}: QEMU user-mode networking (guests reached through port forwards).
 * {@code bridge}: guests on the host bridge {@code bridge}, which every host that runs them must have; with
 * a pool, each NIC gets a fixed address from it that the guest is given at boot.
 */
public record NetworkRecord(String id, String name, String kind, String bridge, String cidr, String gateway,
                            String poolFrom, String poolTo, String description, Instant createdAt) {
    public static final String USER = "user";

    public boolean bridged() {
        return "bridge".equals(kind);
    }

    /** The prefix length of the network's block (null without one). */
    public Integer prefix() {
        Ipv4.Block b = Ipv4.block(cidr);
        return b == null ? null : b.prefix();
    }
}
