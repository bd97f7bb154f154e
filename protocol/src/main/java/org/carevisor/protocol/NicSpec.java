package org.carevisor.protocol;

import java.util.List;

/**
 * One network interface of a VM.
 *
 * @param id       NIC id, unique within the VM
 * @param mac      MAC address, lower case, colon separated
 * @param network  network kind; {@code user} is QEMU user-mode networking
 * @param forwards host ports forwarded into the guest (user-mode networking only)
 */
public record NicSpec(String id, String mac, String network, List<PortForward> forwards) {
    public NicSpec {
        network = network == null ? "user" : network;
        forwards = forwards == null ? List.of() : List.copyOf(forwards);
    }
}
