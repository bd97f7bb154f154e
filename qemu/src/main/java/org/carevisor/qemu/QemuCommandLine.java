package org.carevisor.qemu;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.protocol.NicSpec;
import org.carevisor.protocol.PortForward;
import org.carevisor.protocol.VmSpec;

/**
 * Builds the QEMU command line for a VM spec, and resolves storage paths. The builder that is given the disks'
 * image chains is pure: the same inputs give the same argv, which the golden tests pin down. Thread-safe
 * (stateless).
 */
public final class QemuCommandLine {
    private static final Pattern QEMU_ID = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]{0,30}");
    private static final Pattern MAC = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");
    private static final Pattern SNAPSHOT_TAG = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    private static final Pattern IPV4 = Pattern.compile("((25[0-5]|2[0-4]\\d|1?\\d?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1?\\d?\\d)");
    private static final Pattern MACHINE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    private static final Pattern BRIDGE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,14}");
    /** The fw_cfg item the guest appliance reads its static network configuration from. */
    public static final String NET_FW_CFG = "opt/org.carevisor/net";

    private QemuCommandLine() {
    }

    /** The argv (program first) that starts the VM described by {@code spec}; its disks' chains are checked here. */
    public static List<String> build(VmSpec spec, QemuHostConfig host, VmRuntimePaths paths) {
        return build(spec, host, paths, false);
    }

    /**
     * The argv that starts the VM, with every disk's backing chain checked on the storage now
     * ({@link ImageChains}); see {@link #build(VmSpec, QemuHostConfig, VmRuntimePaths, boolean, Function)}.
     */
    public static List<String> build(VmSpec spec, QemuHostConfig host, VmRuntimePaths paths, boolean incoming) {
        ImageChains chains = ImageChains.of(host);
        return build(spec, host, paths, incoming,
                d -> chains.check("disk " + d.id() + " of VM " + spec.id(), d.path(), d.format()));
    }

    /**
     * The argv that starts the VM. QEMU always starts paused ({@code -S}): the agent checks the files it opened
     * and then lets the guest run ({@code cont}), or, with {@code incoming}, leaves it paused as the destination of
     * a live migration waiting for {@code migrate-incoming} ({@code -incoming defer}) until the manager activates
     * it. Each disk is opened as the chain {@code chains} gives for it (checked before, or made by Carevisor):
     * every file and format node is explicit and the last qcow2 node has {@code "backing": null}, so QEMU never
     * reads a backing file name from an image header nor guesses a format. Pure: the same inputs give the same
     * argv, which the golden tests pin down.
     */
    public static List<String> build(VmSpec spec, QemuHostConfig host, VmRuntimePaths paths, boolean incoming,
                                     Function<DiskSpec, ImageChain> chains) {
        checkSpec(spec);
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
        // a guest kernel that panics tells QEMU through the pvpanic device (Linux, and Windows with the virtio-win
        // driver); QEMU then ends with the shutdown reason "guest-panic", which the agent reports as a crash, so HA
        // restarts the VM instead of leaving a dead guest shown as running
        add(argv, "-device", "pvpanic");
        add(argv, "-action", "panic=shutdown");
        int bootIndex = 1;
        for (DiskSpec disk : spec.disks()) {
            checkId("disk id", disk.id());
            ImageChain chain = chains.apply(disk);
            if (!chain.format().equals(disk.format())) {
                throw new QemuException("invalid-spec", "disk " + disk.id() + " is " + disk.format()
                        + " but its image chain starts with " + chain.format());
            }
            for (String blockdev : chain.blockdevs(disk.id(), disk.readOnly())) {
                add(argv, "-blockdev", blockdev);
            }
            // a write that finds the storage full pauses the VM (the agent resumes it once there is room); a read
            // error is the guest's to handle
            add(argv, "-device", "virtio-blk-pci,drive=" + disk.id() + ",id=" + disk.id()
                    + "-dev,werror=enospc,rerror=report,bootindex=" + bootIndex++);
        }
        for (NicSpec nic : spec.nics()) {
            checkId("nic id", nic.id());
            if (nic.mac() == null || !MAC.matcher(nic.mac()).matches()) {
                throw new QemuException("invalid-spec", "NIC " + nic.id() + " has an invalid MAC address: "
                        + nic.mac());
            }
            switch (nic.network()) {
                case "user" -> {
                    StringBuilder netdev = new StringBuilder("user,id=").append(nic.id());
                    for (PortForward f : nic.forwards()) {
                        String address = f.hostAddress() == null || f.hostAddress().isEmpty()
                                ? host.forwardAddress() : f.hostAddress();
                        netdev.append(",hostfwd=").append(f.protocol()).append(':').append(address).append(':')
                                .append(f.hostPort()).append("-:").append(f.guestPort());
                    }
                    add(argv, "-netdev", netdev.toString());
                }
                case "bridge" -> {
                    if (nic.bridge() == null || !BRIDGE.matcher(nic.bridge()).matches()) {
                        throw new QemuException("invalid-spec", "NIC " + nic.id() + ": bridge '" + nic.bridge()
                                + "' is not a valid interface name");
                    }
                    if (!nic.forwards().isEmpty()) {
                        throw new QemuException("invalid-spec", "NIC " + nic.id()
                                + ": port forwards exist only with user networking; a bridged guest is reached at its"
                                + " own address");
                    }
                    add(argv, "-netdev", "tap,id=" + nic.id() + ",ifname=" + tapName(spec.id(), nic.id())
                            + ",script=no,downscript=no");
                }
                default -> throw new QemuException("invalid-spec", "NIC " + nic.id() + ": network kind '"
                        + nic.network() + "' is not supported (supported: user, bridge)");
            }
            add(argv, "-device", "virtio-net-pci,netdev=" + nic.id() + ",id=" + nic.id() + "-dev,mac=" + nic.mac());
        }
        String net = guestNetConfig(spec);
        if (net != null) {
            add(argv, "-fw_cfg", "name=" + NET_FW_CFG + ",string=" + net);
        }
        if (spec.loadSnapshot() != null) {
            add(argv, "-loadvm", checkSnapshotTag(spec.loadSnapshot()));
        }
        argv.add("-S");
        if (incoming) {
            add(argv, "-incoming", "defer");
        }
        return List.copyOf(argv);
    }

    /**
     * The static network configuration for the guest's first NIC, {@code ip=A.B.C.D/N gw=E.F.G.H}, or null
     * when the first NIC has no managed address.
     */
    static String guestNetConfig(VmSpec spec) {
        if (spec.nics().isEmpty() || spec.nics().get(0).address() == null) {
            return null;
        }
        NicSpec nic = spec.nics().get(0);
        String[] parts = nic.address().split("/", -1);
        if (parts.length != 2 || !IPV4.matcher(parts[0]).matches() || !parts[1].matches("\\d{1,2}")
                || Integer.parseInt(parts[1]) < 1 || Integer.parseInt(parts[1]) > 32) {
            throw new QemuException("invalid-spec", "NIC " + nic.id() + ": address '" + nic.address()
                    + "' must be an IPv4 address with prefix length, e.g. 10.77.0.100/24");
        }
        StringBuilder net = new StringBuilder("ip=").append(nic.address());
        if (nic.gateway() != null) {
            if (!IPV4.matcher(nic.gateway()).matches()) {
                throw new QemuException("invalid-spec", "NIC " + nic.id() + ": gateway '" + nic.gateway()
                        + "' must be an IPv4 address");
            }
            net.append(" gw=").append(nic.gateway());
        }
        return net.toString();
    }

    /**
     * The tap device of a bridged NIC: {@code cv} and 10 hex digits of a hash of VM and NIC id (interface
     * names have at most 15 characters). The agent creates it before QEMU starts and removes it afterwards.
     */
    public static String tapName(String vmId, String nicId) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest((vmId + "/" + nicId)
                    .getBytes(StandardCharsets.UTF_8));
            return "cv" + HexFormat.of().formatHex(hash).substring(0, 10);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Resolves a spec's disk path: {@code local/...} inside the host's local storage, anything else inside
     * the shared storage root. Refuses a path that leaves its root, and a local path on a host without local
     * storage.
     */
    public static Path resolveDisk(Path storageRoot, Path localRoot, String relative) {
        if (relative != null && relative.startsWith(QemuHostConfig.LOCAL_PREFIX)) {
            if (localRoot == null) {
                throw new QemuException("invalid-path", "image path '" + relative
                        + "' is on local storage, but this host has no local storage configured");
            }
            return resolveInStorage(localRoot, relative.substring(QemuHostConfig.LOCAL_PREFIX.length()));
        }
        return resolveInStorage(storageRoot, relative);
    }

    /**
     * Resolves a storage-relative path and refuses one that leaves the storage root, and one that goes through a
     * symbolic link below the root (the root itself may be one): the path QEMU and qemu-img are given then names
     * the file the agent checked, with no link that a writer of the storage could turn elsewhere between check and
     * use. (A writer of the storage could still swap a directory for a link after the check; the agent checks the
     * files a started QEMU really opened, see docs/decisions.md.)
     */
    public static Path resolveInStorage(Path storageRoot, String relative) {
        if (relative == null || relative.isEmpty()) {
            throw new QemuException("invalid-path", "an image path is empty; it must name a file inside the storage root");
        }
        Path root = storageRoot.toAbsolutePath().normalize();
        Path resolved;
        try {
            resolved = root.resolve(relative).normalize();
        } catch (java.nio.file.InvalidPathException e) {
            throw new QemuException("invalid-path", "image path '" + relative + "' is not a valid path: "
                    + e.getReason());
        }
        if (Path.of(relative).isAbsolute() || !resolved.startsWith(root) || resolved.equals(root)) {
            throw new QemuException("invalid-path", "image path '" + relative
                    + "' must be relative and stay inside the storage root " + root);
        }
        Path step = root;
        for (Path part : root.relativize(resolved)) {
            step = step.resolve(part);
            if (Files.isSymbolicLink(step)) {
                throw new QemuException("invalid-path", "image path '" + relative + "' goes through the symbolic"
                        + " link " + root.relativize(step) + " (to " + realLocation(step) + "); the agent follows no"
                        + " symbolic link inside the storage root " + root);
            }
            if (!Files.exists(step, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                break;
            }
        }
        return resolved;
    }

    /**
     * Where {@code path} really is: its longest existing ancestor (or itself) with every symbolic link
     * followed, and the not yet existing rest appended.
     */
    static Path realLocation(Path path) {
        Path existing = path;
        java.util.Deque<Path> rest = new java.util.ArrayDeque<>();
        while (existing != null) {
            try {
                Path real = existing.toRealPath();
                for (Path part : rest) {
                    real = real.resolve(part);
                }
                return real;
            } catch (java.io.IOException e) {
                if (Files.isSymbolicLink(existing)) {
                    // a dangling link: where it points cannot be checked, so it counts as leaving the root
                    return Path.of("/", "dangling symbolic link", existing.toString());
                }
                if (existing.getFileName() == null) {
                    return path;
                }
                rest.addFirst(existing.getFileName());
                existing = existing.getParent();
            }
        }
        return path;
    }

    /** The most disks and NICs a spec may have (the manager allows 8 and 4). */
    public static final int MAX_DISKS = 16;
    public static final int MAX_NICS = 8;
    public static final int MAX_FORWARDS = 64;

    /**
     * Checks the values of a spec that go into the argv as they are (name, machine type, CPU model) and bounds
     * its lists, so a spec cannot smuggle QEMU options in or make an argv of any length.
     */
    public static void checkSpec(VmSpec spec) {
        if (spec.name().isEmpty() || spec.name().length() > 64 || spec.name().chars().anyMatch(Character::isISOControl)) {
            throw new QemuException("invalid-spec", "VM name must be 1-64 characters without control characters");
        }
        if (!MACHINE.matcher(spec.machine()).matches()) {
            throw new QemuException("invalid-spec", "machine type '" + spec.machine()
                    + "' must be 1-64 letters, digits, '_', '.' or '-'");
        }
        if (!MACHINE.matcher(spec.cpuModel()).matches()) {
            throw new QemuException("invalid-spec", "CPU model '" + spec.cpuModel()
                    + "' must be 1-64 letters, digits, '_', '.' or '-'");
        }
        if (spec.cpus() < 1 || spec.cpus() > 1024 || spec.memoryMiB() < 1) {
            throw new QemuException("invalid-spec", "a VM needs 1-1024 vCPUs and some memory, not " + spec.cpus()
                    + " vCPUs and " + spec.memoryMiB() + " MiB");
        }
        if (spec.disks().size() > MAX_DISKS || spec.nics().size() > MAX_NICS
                || spec.nics().stream().anyMatch(n -> n.forwards().size() > MAX_FORWARDS)) {
            throw new QemuException("invalid-spec", "a VM has at most " + MAX_DISKS + " disks, " + MAX_NICS
                    + " NICs and " + MAX_FORWARDS + " port forwards per NIC");
        }
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
}
