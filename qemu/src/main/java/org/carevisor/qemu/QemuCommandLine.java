package org.carevisor.qemu;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.protocol.NicSpec;
import org.carevisor.protocol.PortForward;
import org.carevisor.protocol.VmSpec;

/**
 * Builds the QEMU command line for a VM spec. Pure: the same inputs give the same argv, which the
 * golden tests pin down.
 */
public final class QemuCommandLine {
    private static final Pattern QEMU_ID = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]{0,30}");
    private static final Pattern MAC = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");
    private static final Pattern SNAPSHOT_TAG = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

    private QemuCommandLine() {
    }

    /** The argv (program first) that starts the VM described by {@code spec}. */
    public static List<String> build(VmSpec spec, QemuHostConfig host, VmRuntimePaths paths) {
        List<String> argv = new ArrayList<>();
        argv.add(host.qemuBinary());
        add(argv, "-name", "guest=" + escape(spec.name()) + ",debug-threads=on");
        add(argv, "-uuid", spec.id());
        add(argv, "-machine", spec.machine());
        add(argv, "-accel", host.accelerator());
        add(argv, "-cpu", spec.cpuModel());
        add(argv, "-smp", Integer.toString(spec.cpus()));
        add(argv, "-m", spec.memoryMiB() + "M");
        argv.add("-nodefaults");
        argv.add("-no-user-config");
        add(argv, "-display", "none");
        add(argv, "-rtc", "base=utc");
        add(argv, "-boot", "strict=on");
        add(argv, "-msg", "timestamp=on");
        if (host.sandbox()) {
            add(argv, "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
        }
        add(argv, "-pidfile", paths.pidFile().toString());
        add(argv, "-chardev", "socket,id=qmp,path=" + escape(paths.qmpSocket().toString()) + ",server=on,wait=off");
        add(argv, "-mon", "chardev=qmp,mode=control");
        add(argv, "-chardev", "socket,id=serial0,path=" + escape(paths.consoleSocket().toString())
                + ",server=on,wait=off,logfile=" + escape(paths.consoleLog().toString()) + ",logappend=on");
        add(argv, "-serial", "chardev:serial0");
        add(argv, "-smbios", "type=1,manufacturer=Carevisor,product=Carevisor Virtual Machine,uuid=" + spec.id()
                + ",serial=" + spec.id());
        int bootIndex = 1;
        for (DiskSpec disk : spec.disks()) {
            checkId("disk id", disk.id());
            Path file = resolveInStorage(host.storageRoot(), disk.path());
            String node = disk.id();
            add(argv, "-blockdev", "{\"driver\":\"file\",\"filename\":\"" + jsonEscape(file.toString())
                    + "\",\"node-name\":\"" + node + "-file\",\"discard\":\"unmap\"}");
            add(argv, "-blockdev", "{\"driver\":\"" + disk.format() + "\",\"file\":\"" + node + "-file\","
                    + "\"node-name\":\"" + node + "\",\"read-only\":" + disk.readOnly() + ",\"discard\":\"unmap\"}");
            add(argv, "-device", "virtio-blk-pci,drive=" + node + ",id=" + node + "-dev,bootindex=" + bootIndex++);
        }
        for (NicSpec nic : spec.nics()) {
            checkId("nic id", nic.id());
            if (nic.mac() == null || !MAC.matcher(nic.mac()).matches()) {
                throw new QemuException("invalid-spec", "NIC " + nic.id() + " has an invalid MAC address: "
                        + nic.mac());
            }
            if (!"user".equals(nic.network())) {
                throw new QemuException("invalid-spec", "NIC " + nic.id() + ": network kind '" + nic.network()
                        + "' is not supported on this host (supported: user)");
            }
            StringBuilder netdev = new StringBuilder("user,id=").append(nic.id());
            for (PortForward f : nic.forwards()) {
                String address = f.hostAddress() == null || f.hostAddress().isEmpty()
                        ? host.forwardAddress() : f.hostAddress();
                netdev.append(",hostfwd=").append(f.protocol()).append(':').append(address).append(':')
                        .append(f.hostPort()).append("-:").append(f.guestPort());
            }
            add(argv, "-netdev", netdev.toString());
            add(argv, "-device", "virtio-net-pci,netdev=" + nic.id() + ",id=" + nic.id() + "-dev,mac=" + nic.mac());
        }
        if (spec.loadSnapshot() != null) {
            add(argv, "-loadvm", checkSnapshotTag(spec.loadSnapshot()));
        }
        return List.copyOf(argv);
    }

    /** Resolves a storage-relative path and refuses one that leaves the storage root. */
    public static Path resolveInStorage(Path storageRoot, String relative) {
        if (relative == null || relative.isEmpty()) {
            throw new QemuException("invalid-path", "an image path is empty; it must name a file inside the storage root");
        }
        Path root = storageRoot.toAbsolutePath().normalize();
        Path resolved = root.resolve(relative).normalize();
        if (Path.of(relative).isAbsolute() || !resolved.startsWith(root) || resolved.equals(root)) {
            throw new QemuException("invalid-path", "image path '" + relative
                    + "' must be relative and stay inside the storage root " + root);
        }
        return resolved;
    }

    /** Snapshot tags are identifiers (Carevisor uses snapshot UUIDs); anything else is refused. */
    public static String checkSnapshotTag(String tag) {
        if (tag == null || !SNAPSHOT_TAG.matcher(tag).matches()) {
            throw new QemuException("invalid-spec", "snapshot tag '" + tag
                    + "' must be 1-64 letters, digits, '-', '.' or '_'");
        }
        return tag;
    }

    private static void checkId(String what, String id) {
        if (id == null || !QEMU_ID.matcher(id).matches()) {
            throw new QemuException("invalid-spec", what + " '" + id
                    + "' must start with a letter and contain only letters, digits, '-', '.', '_' (max 31)");
        }
    }

    private static void add(List<String> argv, String option, String value) {
        argv.add(option);
        argv.add(value);
    }

    /** QEMU option values use ',' as separator; a literal comma is written twice. */
    static String escape(String value) {
        return value.replace(",", ",,");
    }

    private static String jsonEscape(String value) {
        StringBuilder out = new StringBuilder();
        for (char c : value.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.toString();
    }
}
