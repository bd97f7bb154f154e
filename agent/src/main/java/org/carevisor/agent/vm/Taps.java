package org.carevisor.agent.vm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.NicSpec;
import org.carevisor.protocol.VmSpec;
import org.carevisor.qemu.ProcessRunner;
import org.carevisor.qemu.QemuCommandLine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tap devices of a VM's bridged NICs: created (persistent, joined to the bridge, up) before QEMU starts
 * and removed after it ends. QEMU opens them by name, so it needs no privileges or helper scripts of its own.
 * Needs CAP_NET_ADMIN (the agent runs as root for bridged networking).
 */
public final class Taps {
    private static final Logger LOG = LoggerFactory.getLogger(Taps.class);
    private static final Duration IP_LIMIT = Duration.ofSeconds(10);
    private static final Path SYS_NET = Path.of("/sys/class/net");

    private Taps() {
    }

    /** Creates the taps of every bridged NIC; on failure the ones made are removed again. */
    static void create(VmSpec spec) {
        List<String> made = new ArrayList<>();
        try {
            for (NicSpec nic : spec.nics()) {
                if (!"bridge".equals(nic.network())) {
                    continue;
                }
                if (nic.bridge() == null || !Files.isDirectory(SYS_NET.resolve(nic.bridge()).resolve("bridge"))) {
                    throw AgentException.conflict("bridge-missing", "NIC " + nic.id() + " of VM " + spec.name()
                            + " needs the bridge '" + nic.bridge() + "', which this host does not have");
                }
                String tap = QemuCommandLine.tapName(spec.id(), nic.id());
                if (Files.exists(SYS_NET.resolve(tap))) {
                    ip("link", "del", tap); // left over from a QEMU that ended while the agent was away
                }
                ip("tuntap", "add", "dev", tap, "mode", "tap");
                made.add(tap);
                // The host side of the tap gets the guest's MAC with first byte fe, as libvirt does: a Linux
                // bridge takes the lowest MAC of its ports unless it has its own, and a joining tap with a low
                // random MAC would change the bridge's address under the host's feet.
                ip("link", "set", tap, "address", "fe" + nic.mac().substring(2));
                ip("link", "set", tap, "master", nic.bridge());
                ip("link", "set", tap, "up");
            }
        } catch (RuntimeException e) {
            made.forEach(Taps::removeQuietly);
            throw e;
        }
    }

    /** Removes the taps of the VM's bridged NICs (those that exist). */
    static void remove(VmSpec spec) {
        if (spec == null) {
            return;
        }
        for (NicSpec nic : spec.nics()) {
            if ("bridge".equals(nic.network())) {
                removeQuietly(QemuCommandLine.tapName(spec.id(), nic.id()));
            }
        }
    }

    private static void removeQuietly(String tap) {
        if (!Files.exists(SYS_NET.resolve(tap))) {
            return;
        }
        try {
            ip("link", "del", tap);
        } catch (RuntimeException e) {
            LOG.warn("cannot remove tap device {}: {}", tap, e.getMessage());
        }
    }

    private static void ip(String... args) {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(args));
        ProcessRunner.Result r = ProcessRunner.run(command, IP_LIMIT);
        if (!r.ok()) {
            String err = r.stderr().strip();
            throw new AgentException(500, "network-setup-failed", String.join(" ", command) + " failed: " + err
                    + (err.contains("Operation not permitted")
                    ? " - bridged networking needs an agent running as root (CAP_NET_ADMIN)" : ""));
        }
    }

    /** Bridges present on this host. */
    public static List<String> bridges() {
        List<String> out = new ArrayList<>();
        try (var dirs = Files.list(SYS_NET)) {
            dirs.filter(d -> Files.isDirectory(d.resolve("bridge"))).map(d -> d.getFileName().toString()).sorted()
                    .forEach(out::add);
        } catch (java.io.IOException e) {
            // no sysfs: no bridges
        }
        return out;
    }
}
