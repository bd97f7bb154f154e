package org.carevisor.manager.snapshot;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.carevisor.manager.audit.Values;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.host.AgentClient;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.vm.Lifecycle;
import org.carevisor.manager.vm.ObservedStore;
import org.carevisor.manager.vm.VmPowerService;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.manager.vm.VmService;
import org.carevisor.protocol.DiskSnapshotRequest;
import org.carevisor.protocol.SnapshotResult;
import org.carevisor.protocol.VmState;

/**
 * Snapshots of VMs: take (running or stopped; with memory or disk-only), list as a tree, revert, delete.
 * A snapshot's data is an internal qcow2 snapshot in every disk of the VM, taken atomically; the tree, the
 * VM's size at that moment and who took it are kept here. Every operation is a task holding the VM's lock
 * and is audited. Thread-safe.
 */
public final class SnapshotService {
    private final VmService vms;
    private final VmPowerService power;
    private final VmRepository vmRepo;
    private final SnapshotRepository repo;
    private final ObservedStore observed;
    private final AgentClient agents;
    private final TaskService tasks;
    private final AuditLog audit;

    public SnapshotService(VmService vms, VmPowerService power, VmRepository vmRepo, SnapshotRepository repo,
                           ObservedStore observed, AgentClient agents, TaskService tasks, AuditLog audit) {
        this.vms = vms;
        this.power = power;
        this.vmRepo = vmRepo;
        this.repo = repo;
        this.observed = observed;
        this.agents = agents;
        this.tasks = tasks;
        this.audit = audit;
    }

    /** Request body of a new snapshot. */
    public record Create(String name, String description, Boolean memory) {
    }

    /** A snapshot as the API shows it; {@code current} marks the one the VM's state descends from. */
    public record SnapshotView(String id, String vmId, String name, String description, String parentId,
                               boolean withMemory, boolean vmWasRunning, int cpus, int memoryMiB, Long pausedMs,
                               Instant createdAt, String createdBy, boolean current) {
    }

    public List<SnapshotView> list(String vmRef) {
        VmRecord vm = vms.get(vmRef);
        return repo.ofVm(vm.id()).stream().map(s -> view(s, vm)).toList();
    }

    public SnapshotView get(String vmRef, String snapRef) {
        VmRecord vm = vms.get(vmRef);
        return view(resolve(vm, snapRef), vm);
    }

    private static SnapshotView view(SnapshotRecord s, VmRecord vm) {
        return new SnapshotView(s.id(), s.vmId(), s.name(), s.description(), s.parentId(), s.withMemory(),
                s.vmWasRunning(), s.cpus(), s.memoryMiB(), s.pausedMs(), s.createdAt(), s.createdBy(),
                s.id().equals(vm.currentSnapshotId()));
    }

    /** Takes a snapshot; with memory only while the VM runs. */
    public TaskRecord create(String vmRef, Create request, Actor actor) {
        VmRecord vm = ready(vmRef, "snapshot");
        boolean memory = Boolean.TRUE.equals(request.memory());
        String problem = SnapshotNames.problem(request.name());
        if (problem != null) {
            throw ApiException.invalid("name", problem);
        }
        if (request.description() != null && request.description().length() > 1000) {
            throw ApiException.invalid("description", "must be at most 1000 characters");
        }
        if (repo.ofVm(vm.id()).stream().anyMatch(s -> s.name().equals(request.name()))) {
            throw ApiException.conflict("snapshot-name-taken", "name", "VM '" + vm.name()
                    + "' already has a snapshot named '" + request.name() + "'");
        }
        VmState state = settledState(vm);
        boolean running = state.hasProcess();
        if (memory && !running) {
            throw ApiException.invalid("memory", "VM '" + vm.name() + "' is " + state.json()
                    + ", so there is no memory state to save; take a disk-only snapshot (memory=false)");
        }
        requireQcow2(vm);
        String endpoint = power.connectedEndpoint(vm);
        return tasks.submit("vm.snapshot.create", VmService.target(vm), actor, vm.id(), ctx -> {
            VmRecord now = vmRepo.find(vm.id()).orElseThrow();
            String id = UUID.randomUUID().toString();
            ctx.progress(10, memory ? "saving memory and disks" : "snapshotting disks");
            Long paused = null;
            if (running) {
                SnapshotResult r = agents.snapshot(endpoint, vm.id(), id, request.name(), memory);
                observed.put(vm.hostId(), r.status());
                paused = memory ? r.pausedMs() : null;
            } else {
                agents.diskSnapshot(endpoint, paths(now), id, DiskSnapshotRequest.Op.CREATE);
            }
            SnapshotRecord s = new SnapshotRecord(id, vm.id(), request.name(), request.description(),
                    now.currentSnapshotId(), memory, running, now.cpus(), now.memoryMiB(), paused, Instant.now(),
                    actor.name());
            vmRepo.jdbi().useTransaction(h -> {
                repo.insert(h, s);
                vmRepo.setCurrentSnapshot(h, vm.id(), id);
                audit.record(h, new AuditLog.Entry(actor, "vm.snapshot.create", "vm", vm.id(), vm.name(), null,
                        describe(s), request.description(), Outcome.SUCCESS, ctx.taskId()));
            });
            ctx.message("snapshot '" + s.name() + "' of VM " + vm.name() + " taken ("
                    + (memory ? "with memory; guest paused " + paused + " ms" : running
                    ? "disk-only, crash-consistent" : "disk-only, VM stopped") + ")");
        });
    }

    /**
     * Reverts the VM to a snapshot. With memory: the guest continues from the snapshot's moment, running
     * (live when the VM runs with the same size, else from a fresh QEMU). Disk-only: the VM is powered off,
     * its disks are reverted, and it boots again if it was running. vCPUs and memory return to the snapshot's.
     */
    public TaskRecord revert(String vmRef, String snapRef, Actor actor) {
        VmRecord vm = ready(vmRef, "revert");
        SnapshotRecord s = resolve(vm, snapRef);
        settledState(vm);
        String endpoint = power.connectedEndpoint(vm);
        return tasks.submit("vm.snapshot.revert", VmService.target(vm), actor, vm.id(), ctx -> {
            VmRecord now = vmRepo.find(vm.id()).orElseThrow();
            boolean running = power.observedState(now).hasProcess();
            boolean sameSize = now.cpus() == s.cpus() && now.memoryMiB() == s.memoryMiB();
            Map<String, Object> before = Values.of("currentSnapshot", now.currentSnapshotId(),
                    "cpus", now.cpus(), "memoryMiB", now.memoryMiB(), "state", power.observedState(now).json());
            if (s.withMemory() && running && sameSize) {
                ctx.progress(20, "loading memory and disks");
                observed.put(vm.hostId(), agents.loadSnapshot(endpoint, vm.id(), s.id(), s.name()).status());
                vmRepo.jdbi().useTransaction(h -> vmRepo.setPower(h, vm.id(),
                        org.carevisor.manager.vm.PowerState.RUNNING, Instant.now()));
            } else {
                if (running) {
                    ctx.progress(20, "powering off");
                    power.powerOffNow(now, endpoint);
                }
                if (!s.withMemory()) {
                    ctx.progress(40, "reverting disks");
                    agents.diskSnapshot(endpoint, paths(now), s.id(), DiskSnapshotRequest.Op.APPLY);
                }
                if (!sameSize) {
                    vmRepo.jdbi().useTransaction(h -> vmRepo.setSize(h, vm.id(), s.cpus(), s.memoryMiB()));
                }
                if (s.withMemory() || running) {
                    ctx.progress(70, s.withMemory() ? "resuming from the snapshot" : "starting");
                    power.startInTask(vm.id(), actor, ctx.taskId(), s.withMemory() ? s.id() : null);
                }
            }
            Map<String, Object> after = Map.of("currentSnapshot", s.id(), "cpus", s.cpus(), "memoryMiB",
                    s.memoryMiB(), "state", power.observedState(now).json());
            vmRepo.jdbi().useTransaction(h -> {
                vmRepo.setCurrentSnapshot(h, vm.id(), s.id());
                audit.record(h, new AuditLog.Entry(actor, "vm.snapshot.revert", "vm", vm.id(), vm.name(), before,
                        after, "reverted to snapshot '" + s.name() + "'", Outcome.SUCCESS, ctx.taskId()));
            });
            ctx.message("VM " + vm.name() + " reverted to snapshot '" + s.name() + "'" + (s.withMemory()
                    ? "; the guest continues from that moment" : running ? "; it boots from that disk state" : ""));
        });
    }

    /** Deletes a snapshot; its children then descend from its parent, and their data stays valid. */
    public TaskRecord delete(String vmRef, String snapRef, Actor actor) {
        VmRecord vm = vms.get(vmRef);
        Lifecycle.requireReady(vm, "delete a snapshot of");
        SnapshotRecord s = resolve(vm, snapRef);
        settledState(vm);
        String endpoint = power.connectedEndpoint(vm);
        return tasks.submit("vm.snapshot.delete", VmService.target(vm), actor, vm.id(), ctx -> {
            VmRecord now = vmRepo.find(vm.id()).orElseThrow();
            if (power.observedState(now).hasProcess()) {
                observed.put(vm.hostId(), agents.deleteSnapshot(endpoint, vm.id(), s.id()).status());
            } else {
                agents.diskSnapshot(endpoint, paths(now), s.id(), DiskSnapshotRequest.Op.DELETE);
            }
            vmRepo.jdbi().useTransaction(h -> {
                repo.delete(h, s);
                if (s.id().equals(now.currentSnapshotId())) {
                    vmRepo.setCurrentSnapshot(h, vm.id(), s.parentId());
                }
                audit.record(h, new AuditLog.Entry(actor, "vm.snapshot.delete", "vm", vm.id(), vm.name(),
                        describe(s), null, null, Outcome.SUCCESS, ctx.taskId()));
            });
            ctx.message("snapshot '" + s.name() + "' of VM " + vm.name() + " deleted");
        });
    }

    /** A snapshot of this VM by id or name; a snapshot of another VM is refused by name. */
    private SnapshotRecord resolve(VmRecord vm, String ref) {
        var byId = repo.find(ref);
        if (byId.isPresent()) {
            SnapshotRecord s = byId.get();
            if (!s.vmId().equals(vm.id())) {
                String owner = vmRepo.find(s.vmId()).map(VmRecord::name).orElse(s.vmId());
                throw ApiException.conflict("snapshot-of-another-vm", "snapshot '" + s.name() + "' (" + s.id()
                        + ") belongs to VM '" + owner + "', not to VM '" + vm.name() + "'");
            }
            return s;
        }
        return repo.ofVm(vm.id()).stream().filter(s -> s.name().equals(ref)).findFirst()
                .orElseThrow(() -> new ApiException(404, "not-found", "Not found", "VM '" + vm.name()
                        + "' has no snapshot '" + ref + "' (list them: carevisor snapshot list " + vm.name() + ")",
                        null));
    }

    private VmRecord ready(String vmRef, String what) {
        VmRecord vm = vms.get(vmRef);
        Lifecycle.requireReady(vm, what);
        return vm;
    }

    /** The observed state, refusing states in which the VM's disks are in flux or unknown. */
    private VmState settledState(VmRecord vm) {
        VmState state = power.observedState(vm);
        if (state == VmState.UNKNOWN) {
            power.connectedEndpoint(vm);
        }
        if (state == VmState.STARTING || state == VmState.STOPPING) {
            throw ApiException.conflict("vm-busy", "VM '" + vm.name() + "' is " + state.json() + "; try again when it is"
                    + " running or stopped");
        }
        return state;
    }

    private static void requireQcow2(VmRecord vm) {
        for (VmRecord.Disk d : vm.disks()) {
            if (!d.format().equals("qcow2")) {
                throw ApiException.conflict("snapshot-unsupported", "disk " + d.diskId() + " of VM '" + vm.name()
                        + "' is " + d.format() + "; snapshots need qcow2 disks");
            }
        }
    }

    private static List<String> paths(VmRecord vm) {
        return vm.disks().stream().map(VmRecord.Disk::path).toList();
    }

    private static Map<String, Object> describe(SnapshotRecord s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("snapshot", s.id());
        m.put("name", s.name());
        m.put("withMemory", s.withMemory());
        m.put("parent", s.parentId());
        m.put("cpus", s.cpus());
        m.put("memoryMiB", s.memoryMiB());
        return m;
    }
}
