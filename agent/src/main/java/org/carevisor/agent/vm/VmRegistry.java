package org.carevisor.agent.vm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * All VMs this agent runs or ran, one {@link VmSupervisor} each, kept under {@code <state>/vms/<id>/}.
 * Thread-safe.
 */
public final class VmRegistry {
    private static final Logger LOG = LoggerFactory.getLogger(VmRegistry.class);
    private static final Pattern VM_ID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    private final Path stateDir;
    private final Path vmsDir;
    private final VmHost host;
    private final Map<String, VmSupervisor> vms = new ConcurrentHashMap<>();
    private volatile boolean shuttingDown;

    public VmRegistry(Path stateDir, VmHost host) throws IOException {
        this.stateDir = stateDir;
        this.vmsDir = stateDir.resolve("vms");
        this.host = host;
        Files.createDirectories(vmsDir);
    }

    /** Loads every VM directory and re-adopts the QEMU processes that still run. Returns how many run. */
    public int adoptAll() throws IOException {
        int running = 0;
        try (Stream<Path> dirs = Files.list(vmsDir)) {
            for (Path dir : dirs.sorted().toList()) {
                String id = dir.getFileName().toString();
                if (!VM_ID.matcher(id).matches() || !Files.isDirectory(dir)) {
                    continue;
                }
                VmSupervisor vm = new VmSupervisor(id, files(id), host);
                vms.put(id, vm);
                if (vm.adopt()) {
                    running++;
                }
            }
        }
        host.scheduler().scheduleWithFixedDelay(this::watchdog, 2, 2, TimeUnit.SECONDS);
        return running;
    }

    private void watchdog() {
        for (VmSupervisor vm : vms.values()) {
            try {
                vm.watchdog();
            } catch (RuntimeException e) {
                LOG.warn("watchdog of VM {} failed", vm.vmId(), e);
            }
        }
    }

    /** True once {@link #stopAll} was called: this agent process starts no more VMs. */
    public boolean shuttingDown() {
        return shuttingDown;
    }

    /** The supervisor of a VM about to be started, created on first use; refused while the host shuts down. */
    public VmSupervisor forStart(String id) {
        checkId(id);
        if (shuttingDown) {
            throw AgentException.conflict("host-shutting-down", "this host is shutting down its VMs; "
                    + "no VM can be started on it until its agent restarts or the site is resumed"
                    + " (carevisor site resume)");
        }
        return vms.computeIfAbsent(id, k -> new VmSupervisor(k, files(k), host));
    }

    public VmSupervisor get(String id) {
        checkId(id);
        VmSupervisor vm = vms.get(id);
        if (vm == null) {
            throw AgentException.notFound("VM " + id + " is not known on this host");
        }
        return vm;
    }

    public List<VmStatus> statuses() {
        List<VmStatus> out = new ArrayList<>();
        for (VmSupervisor vm : vms.values()) {
            out.add(vm.status());
        }
        out.sort(Comparator.comparing(VmStatus::vmId));
        return out;
    }

    /** True when some VM of this host runs with {@code vmId}. */
    public boolean isRunning(String vmId) {
        VmSupervisor vm = vms.get(vmId);
        return vm != null && vm.hasProcess();
    }

    /** Bounds the console log of every VM that runs here (called every second by the agent's timer). */
    public void boundConsoleLogs() {
        for (VmSupervisor vm : vms.values()) {
            if (!vm.hasProcess()) {
                continue;
            }
            try {
                vm.files().boundConsoleLog();
            } catch (IOException | RuntimeException e) {
                org.slf4j.LoggerFactory.getLogger(VmRegistry.class).warn("cannot bound the console log of VM {}: {}",
                        vm.files().directory().getFileName(), e.toString());
            }
        }
    }

    /** Forgets a stopped VM and removes its runtime directory (console log included); disks stay. */
    public void undefine(String id) throws IOException {
        VmSupervisor vm = get(id);
        if (vm.hasProcess()) {
            throw AgentException.conflict("vm-running", "VM " + id + " still runs on this host; stop it first");
        }
        vms.remove(id);
        org.carevisor.agent.storage.FileTrees.delete(vm.files().directory());
        if (!vm.files().paths().socketDirectory().equals(vm.files().directory())) {
            org.carevisor.agent.storage.FileTrees.delete(vm.files().paths().socketDirectory());
        }
    }

    /**
     * Marks the host as shutting down (reported to the manager, so nothing is started here any more),
     * shuts every VM down (ACPI, power-off after the timeout) and waits until all have stopped.
     */
    /**
     * Refuses (true) or accepts again (false) VM starts and incoming migrations, without stopping anything: the
     * first phase of a site shutdown. Reported to the manager at once. Returns the VMs' states.
     */
    public List<VmStatus> drain(boolean drain) {
        shuttingDown = drain;
        host.onChange().run();
        return statuses();
    }

    /** True while some VM of this host has a QEMU process. */
    public boolean anyRunning() {
        return vms.values().stream().anyMatch(VmSupervisor::hasProcess);
    }

    public List<VmStatus> stopAll(int timeoutSeconds) {
        shuttingDown = true;
        host.onChange().run();
        for (VmSupervisor vm : vms.values()) {
            vm.shutdown(timeoutSeconds, StopCause.HOST_SHUTDOWN);
        }
        Instant deadline = Instant.now().plus(Duration.ofSeconds(timeoutSeconds + 25L));
        while (Instant.now().isBefore(deadline) && vms.values().stream().anyMatch(VmSupervisor::hasProcess)) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return statuses();
    }

    private VmFiles files(String id) {
        Path dir = vmsDir.resolve(id);
        return new VmFiles(dir, SocketDirs.forVm(stateDir, dir, id));
    }

    private static void checkId(String id) {
        if (id == null || !VM_ID.matcher(id).matches()) {
            throw AgentException.badRequest("invalid-vm-id", "'" + id + "' is not a VM id (a lower-case UUID)");
        }
    }
}
