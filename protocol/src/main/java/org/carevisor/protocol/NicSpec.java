package org.carevisor.protocol;

import java.util.List;

/**
 * One network interface of a VM.
 *
 * @param id       NIC id, unique within the VM
 * @param mac      MAC address, lower case, colon separated
 * @param network  network kind: {@code user} (QEMU user-mode networking, reachable through port forwards)
 *                 or {@code bridge} (a tap device on a host bridge; the guest is on the bridge's network)
 * @param forwards host ports forwarded into the guest (user-mode networking only)
 * @param bridge   host bridge the tap device joins ({@code bridge} networks only)
 * @param address  guest address with prefix length, e.g. {@code 10.77.0.100/24}, handed to the guest via
 *                 QEMU fw_cfg ({@code bridge} networks with address management; null: the guest uses DHCP)
 * @param gateway  default gateway handed to the guest with the address (may be null)
 */
public record NicSpec(String id, String mac, String network, List<PortForward> forwards, String bridge,
                      String address, String gateway) {
    public NicSpec {
        network = network == null ? "user" : network;
        forwards = forwards == null ? List.of() : List.copyOf(forwards);
    }

    /** A user-mode NIC. */
    public NicSpec(String id, String mac, String network, List<PortForward> forwards) {
        this(id, mac, network, forwards, null, null, null);
    }
}
