package org.carevisor.manager.vm;

import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.carevisor.manager.audit.Values;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.host.AgentCallException;
import org.carevisor.manager.host.AgentClient;
import org.carevisor.manager.host.HostBoard;
import org.carevisor.manager.image.ImageCatalog;
import org.carevisor.manager.image.ImageRecord;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.task.TaskService;
import org.carevisor.protocol.ConsoleChunk;
import org.carevisor.protocol.DiskCreateRequest;
import org.carevisor.protocol.PortForward;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * VM definitions: create (with disks), change, delete, look up and show. Every request is validated
 * before anything changes; a create that fails part-way removes what it made. Thread-safe.
 */
public final class VmService {
    private static final Logger LOG = LoggerFactory.getLogger(VmService.class);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final VmRepository repo;
    private final ObservedStore observed;
    private final HostBoard hosts;
    private final AgentClient agents;
    private final ImageCatalog images;
    private final TaskService tasks;
    private final AuditLog audit;
    private final ManagerConfig config;
    private final VmPowerService power;
    private final org.carevisor.manager.placement.PlacementService placement;
    private final org.carevisor.manager.network.NetworkService networks;
    private final Object allocationLock = new Object();

    public VmService(VmRepository repo, ObservedStore observed, HostBoard hosts, AgentClient agents,
                     ImageCatalog images, TaskService tasks, AuditLog audit, ManagerConfig config,
                     VmPowerService power, org.carevisor.manager.placement.PlacementService placement,
                     org.carevisor.manager.network.NetworkService networks) {
        this.repo = repo;
        this.observed = observed;
        this.hosts = hosts;
        this.agents = agents;
        this.images = images;
        this.tasks = tasks;
        this.audit = audit;
        this.config = config;
        this.power = power;
        this.placement = placement;
        this.networks = networks;
    }

    /** A VM by id, or by name when no id matches. */
    public VmRecord get(String idOrName) {
        return repo.find(idOrName).or(() -> repo.findByName(idOrName))
                .orElseThrow(() -> ApiException.notFound("VM", idOrName));
    }

    public List<VmView> list() {
        return repo.list().stream().map(this::view).toList();
    }

    public VmView view(String idOrName) {
        return view(get(idOrName));
    }

    /** Validates, records the VM as "creating" and starts the task that makes its disks. */
    public Created create(VmRequests.Create request, Actor actor) {
        VmValidator.Capacity capacity = capacity();
        VmValidator.Plan plan = VmValidator.create(request, capacity,
                ref -> images.resolve(ref).orElse(null), ref -> networks.find(ref).orElse(null));
        List<DiskSource> disks = plan.disks().stream().map(d -> d.image() == null
                ? (DiskSource) new DiskSource.Blank(d.sizeBytes(), d.format())
                : new DiskSource.ImageCopy(d.image().id(), d.image().path(), d.image().format(), d.sizeBytes(),
                        d.format())).toList();
        String clusterId = placement.clusterFor(request.cluster(), request.host()).id();
        String hostId = request.host() == null ? null : placement.host(request.host()).id();
        return provision(new NewVm(plan.name(), plan.description(), plan.cpus(), plan.memoryMiB(), plan.nics(), null,
                null, null, clusterId, hostId, plan.local()), disks, null, plan.start(), "vm.create", null, actor);
    }

    /**
     * What a new VM is to be, apart from its disks. {@code id} and {@code macs} are normally null (a new
     * identity is made); an import that keeps the exported identity sets them. {@code clusterId} null: the
     * default cluster; {@code hostId} null: the scheduler chooses; {@code local}: disks on that host's own
     * storage.
     */
    public record NewVm(String name, String description, int cpus, int memoryMiB, List<VmValidator.PlannedNic> nics,
                        String templateId, String id, List<String> macs, String clusterId, String hostId,
                        boolean local) {
        public NewVm(String name, String description, int cpus, int memoryMiB, List<VmValidator.PlannedNic> nics,
                     String templateId) {
            this(name, description, cpus, memoryMiB, nics, templateId, null, null, null, null, false);
        }

        public NewVm(String name, String description, int cpus, int memoryMiB, List<VmValidator.PlannedNic> nics,
                     String templateId, String id, List<String> macs) {
            this(name, description, cpus, memoryMiB, nics, templateId, id, macs, null, null, false);
        }

        /** The same VM in the cluster of {@code source} (a clone stays with its source). */
        public NewVm inClusterOf(VmRecord source) {
            return new NewVm(name, description, cpus, memoryMiB, nics, templateId, id, macs, source.clusterId(), hostId,
                    local);
        }
    }

    /**
     * Work a provisioning task does before it makes disks (e.g. verifying a template's checksums, or
     * unpacking an import into the new VM's disk directory).
     */
    @FunctionalInterface
    public interface PreCheck {
        void run(String endpoint, VmRecord vm) throws Exception;
    }

    /**
     * The one path by which VMs come to exist: picks a host, allocates identity (UUID, MACs, ports) and
     * records the VM as "creating" with its audit record, then a task runs {@code preCheck}, makes every
     * disk and marks the VM ready (and starts it when asked). When anything fails, the disks made so far
     * and the record are removed and the failure is audited: nothing is left half-made.
     *
     * @param reason audited reason (e.g. "deployed from template ehr v2"), may be null
     */
    public Created provision(NewVm request, List<DiskSource> disks, PreCheck preCheck, boolean start, String kind,
                             String reason, Actor actor) {
        String newId = request.id() != null ? request.id() : UUID.randomUUID().toString();
        NewVm newVm = new NewVm(request.name(), request.description(), request.cpus(), request.memoryMiB(),
                request.nics(), request.templateId(), newId, request.macs(),
                request.clusterId() != null ? request.clusterId() : placement.clusterFor(null, null).id(),
                request.hostId(), request.local());
        java.util.Set<String> bridges = new java.util.TreeSet<>();
        for (VmValidator.PlannedNic n : newVm.nics()) {
            networks.find(n.network()).filter(org.carevisor.manager.network.NetworkRecord::bridged)
                    .ifPresent(net -> bridges.add(net.bridge()));
        }
        String hostId = placement.reserve(new org.carevisor.manager.placement.PlacementService.Subject(newId,
                newVm.name(), newVm.clusterId(), newVm.cpus(), newVm.memoryMiB(), bridges, null, null),
                org.carevisor.manager.placement.PlacementService.Purpose.DEFINE, newVm.hostId()).hostId();
        HostBoard.Entry host = hosts.get(hostId).filter(e -> hosts.connected(hostId))
                .orElseThrow(() -> ApiException.unavailable("host-unavailable", "the chosen host is not reporting"));
        VmRecord vm;
        synchronized (allocationLock) {
            if (repo.nameTaken(newVm.name(), null)) {
                throw ApiException.conflict("name-taken", "name", "a VM named '" + newVm.name() + "' already exists");
            }
            if (request.id() != null && repo.find(newVm.id()).isPresent()) {
                throw ApiException.conflict("id-taken", "a VM with id " + newVm.id() + " already exists");
            }
            if (newVm.macs() != null) {
                Set<String> used = repo.usedMacs();
                for (String mac : newVm.macs()) {
                    if (used.contains(mac)) {
                        throw ApiException.conflict("mac-taken", "MAC address " + mac + " is already used by another VM");
                    }
                }
            }
            vm = buildRecord(newVm, disks, host.inventory().hostId());
            VmRecord toInsert = vm;
            repo.jdbi().useTransaction(h -> {
                repo.insert(h, toInsert);
                audit.record(h, new AuditLog.Entry(actor, kind, "vm", toInsert.id(), toInsert.name(), null,
                        definition(toInsert), reason, Outcome.SUCCESS, null));
            });
        }
        VmRecord created = vm;
        TaskRecord task = tasks.submit(kind, target(vm), actor, vm.id(), ctx -> {
            String endpoint = host.inventory().endpoint();
            try {
                if (preCheck != null) {
                    ctx.progress(3, "checking the source");
                    preCheck.run(endpoint, created);
                }
                ctx.progress(5, "creating disks");
                for (int i = 0; i < disks.size(); i++) {
                    VmRecord.Disk d = created.disks().get(i);
                    DiskCreateRequest diskRequest = disks.get(i).request(d.path());
                    if (diskRequest != null) {
                        agents.createDisk(endpoint, diskRequest);
                    }
                    ctx.progress(10 + 70 * (i + 1) / disks.size(), "created disk " + d.diskId());
                }
                repo.jdbi().useTransaction(h -> repo.setLifecycle(h, created.id(), Lifecycle.READY));
            } catch (Exception e) {
                undoCreate(created, endpoint, actor, ctx.taskId(), kind, e);
                throw e;
            }
            ctx.message("VM " + created.name() + " created");
            if (start) {
                ctx.progress(85, "starting");
                power.startNow(created.id(), actor, ctx.taskId());
                ctx.message("VM " + created.name() + " created and started");
            }
        });
        return new Created(view(vm.id()), task);
    }

    /** A created VM and the task that finishes creating it. */
    public record Created(VmView vm, TaskRecord task) {
    }

    private void undoCreate(VmRecord vm, String endpoint, Actor actor, String taskId, String kind, Exception cause) {
        LOG.warn("creating VM {} failed, removing what was made: {}", vm.name(), cause.getMessage());
        try {
            agents.deleteVmDisks(endpoint, vm.id());
        } catch (AgentCallException e) {
            LOG.warn("could not remove the disks of the failed VM {}: {}", vm.name(), e.getMessage());
        }
        repo.jdbi().useTransaction(h -> {
            repo.delete(h, vm.id());
            audit.record(h, new AuditLog.Entry(actor, kind, "vm", vm.id(), vm.name(), definition(vm), null,
                    "creation failed and was rolled back: " + cause.getMessage(), Outcome.FAILURE, taskId));
        });
        observed.remove(vm.id());
    }

    private VmRecord buildRecord(NewVm newVm, List<DiskSource> sources, String hostId) {
        String id = newVm.id();
        String prefix = newVm.local() ? org.carevisor.protocol.DiskSpec.LOCAL_PREFIX : "";
        List<VmRecord.Disk> disks = new ArrayList<>();
        for (int i = 0; i < sources.size(); i++) {
            DiskSource d = sources.get(i);
            disks.add(new VmRecord.Disk("disk" + i, i, prefix + "vms/" + id + "/disk" + i + "." + d.format(),
                    d.format(), d.sizeBytes(), d.sourceImageId(), d.baseTemplateId()));
        }
        Set<String> addresses = new java.util.HashSet<>();
        Set<String> macs = repo.usedMacs();
        Map<String, Set<Integer>> ports = new HashMap<>();
        List<VmRecord.Nic> nics = new ArrayList<>();
        for (int i = 0; i < newVm.nics().size(); i++) {
            VmValidator.PlannedNic n = newVm.nics().get(i);
            List<VmRecord.Forward> forwards = new ArrayList<>();
            for (int j = 0; j < n.forwards().size(); j++) {
                VmRequests.Forward f = n.forwards().get(j);
                String protocol = f.protocol() == null ? "tcp" : f.protocol();
                Set<Integer> used = ports.computeIfAbsent(protocol, repo::usedHostPorts);
                int hostPort;
                if (f.hostPort() != null) {
                    if (used.contains(f.hostPort())) {
                        throw ApiException.conflict("port-in-use", "nics[" + i + "].forwards[" + j + "].hostPort",
                                "host port " + f.hostPort() + "/" + protocol + " is already forwarded to another VM");
                    }
                    hostPort = f.hostPort();
                } else {
                    hostPort = freePort(used);
                }
                used.add(hostPort);
                forwards.add(new VmRecord.Forward(protocol, hostPort, f.guestPort()));
            }
            String mac = newVm.macs() != null && i < newVm.macs().size() ? newVm.macs().get(i) : newMac(macs);
            org.carevisor.manager.network.NetworkRecord net = networks.get(n.network());
            String ip = net.bridged() ? repo.jdbi().withHandle(h -> networks.allocate(h, net, addresses)) : null;
            if (ip != null) {
                addresses.add(ip);
            }
            nics.add(new VmRecord.Nic("nic" + i, i, mac, n.network(), net.bridged() ? List.of() : forwards, ip,
                    net.kind(), net.bridge(), net.prefix(), net.gateway()));
        }
        Instant now = Instant.now();
        String cpuModel = placement.clusterFor(newVm.clusterId(), null).cpuModel();
        return new VmRecord(id, newVm.name(), newVm.description(), newVm.cpus(), newVm.memoryMiB(), "pc", cpuModel,
                hostId, PowerState.STOPPED, Lifecycle.CREATING, 1, now, now, now, disks, nics, newVm.templateId(),
                null, null, null, newVm.clusterId(), null, false);
    }

    private int freePort(Set<Integer> used) {
        for (int p = config.guestPortFrom(); p <= config.guestPortTo(); p++) {
            if (!used.contains(p)) {
                return p;
            }
        }
        throw ApiException.conflict("no-free-port", "every host port of the guest port range "
                + config.guestPortFrom() + "-" + config.guestPortTo() + " is in use; widen --guest-port-range");
    }

    private static String newMac(Set<String> used) {
        while (true) {
            String mac = String.format("52:54:00:%02x:%02x:%02x", RANDOM.nextInt(256), RANDOM.nextInt(256),
                    RANDOM.nextInt(256));
            if (used.add(mac)) {
                return mac;
            }
        }
    }

    /**
     * Clones a stopped VM: a full, independent copy of every disk (backing chains flattened) under a new
     * identity (UUID, MACs, ports, name). A running VM is refused: copying disks under a running guest gives
     * no consistent state. Snapshots are not copied.
     */
    public Created clone(String idOrName, VmRequests.Clone request, Actor actor) {
        VmRecord source = get(idOrName);
        requireReady(source);
        VmState state = observedState(source);
        if (state.hasProcess() || state == VmState.UNKNOWN) {
            throw ApiException.conflict("vm-running", "VM '" + source.name() + "' is " + state.json()
                    + "; a running VM's disks change while they are copied, so only a stopped VM can be cloned"
                    + " - shut it down first");
        }
        String description = request.description() != null ? request.description() : source.description();
        VmValidator.checkNew(request.name(), description, source.cpus(), source.memoryMiB(), capacity());
        long needed = source.disks().stream().mapToLong(VmRecord.Disk::sizeBytes).sum();
        if (needed > capacity().storageFreeBytes()) {
            throw ApiException.invalid("name", "the clone needs up to " + (needed >> 20) + " MiB but the storage has"
                    + " only " + (capacity().storageFreeBytes() >> 20) + " MiB free");
        }
        List<DiskSource> disks = source.disks().stream()
                .map(d -> (DiskSource) new DiskSource.VmDiskCopy(d.path(), d.sizeBytes(), d.format())).toList();
        List<VmValidator.PlannedNic> nics = source.nics().stream().map(n -> new VmValidator.PlannedNic(n.network(),
                n.forwards().stream().map(f -> new VmRequests.Forward(f.protocol(), f.guestPort(), null)).toList()))
                .toList();
        String sourceId = source.id();
        return provision(new NewVm(request.name(), description, source.cpus(), source.memoryMiB(), nics,
                source.templateId()).inClusterOf(source), disks, (endpoint, vm) -> {
                    VmState now = observedState(get(sourceId));
                    if (now.hasProcess()) {
                        throw ApiException.conflict("vm-running", "VM '" + source.name() + "' was started meanwhile;"
                                + " the clone was not made");
                    }
                }, Boolean.TRUE.equals(request.start()), "vm.clone", "full clone of VM '" + source.name() + "'",
                actor);
    }

    /** Changes name, description, CPUs or memory; CPUs and memory only while the VM is stopped. */
    public VmView patch(String idOrName, VmRequests.Patch patch, Actor actor) {
        VmRecord vm = get(idOrName);
        requireReady(vm);
        VmRequests.Patch next = VmValidator.patch(vm, patch, capacity());
        boolean sizeChange = next.cpus() != vm.cpus() || next.memoryMiB() != vm.memoryMiB();
        if (sizeChange && (vm.powerState() != PowerState.STOPPED || observedState(vm).hasProcess())) {
            throw ApiException.conflict("vm-running", "CPUs and memory can only be changed while the VM is stopped; "
                    + "VM '" + vm.name() + "' is " + observedState(vm).json() + " - shut it down first");
        }
        if (!next.name().equals(vm.name()) && repo.nameTaken(next.name(), vm.id())) {
            throw ApiException.conflict("name-taken", "name", "a VM named '" + next.name() + "' already exists");
        }
        Map<String, Object> before = Values.of("name", vm.name(), "description", vm.description(),
                "cpus", vm.cpus(), "memoryMiB", vm.memoryMiB(), "gxp", vm.gxp());
        Map<String, Object> after = Values.of("name", next.name(), "description", next.description(),
                "cpus", next.cpus(), "memoryMiB", next.memoryMiB(), "gxp", next.gxp());
        if (before.equals(after)) {
            return view(vm);
        }
        repo.jdbi().useTransaction(h -> {
            repo.updateConfig(h, vm.id(), next.name(), next.description(), next.cpus(), next.memoryMiB());
            if (next.gxp() != vm.gxp()) {
                repo.setGxp(h, vm.id(), next.gxp());
            }
            audit.record(h, new AuditLog.Entry(actor, "vm.update", "vm", vm.id(), next.name(), before, after, null,
                    Outcome.SUCCESS, null));
        });
        return view(vm.id());
    }

    /** Deletes a VM and its disk files; a running VM only with {@code force} (see {@link VmDeletion}). */
    public TaskRecord delete(String idOrName, boolean force, Actor actor) {
        return new VmDeletion(repo, observed, agents, tasks, audit, power).delete(get(idOrName), force, actor);
    }

    /** A piece of the VM's serial console log. */
    public ConsoleChunk console(String idOrName, long offset, int max) {
        VmRecord vm = get(idOrName);
        try {
            return agents.console(endpointOf(vm), vm.id(), offset, max);
        } catch (AgentCallException e) {
            if (e.status() == 404) {
                return new ConsoleChunk(0, 0, "");
            }
            throw e;
        }
    }

    String endpointOf(VmRecord vm) {
        return power.endpointOf(vm);
    }

    private static void requireReady(VmRecord vm) {
        Lifecycle.requireReady(vm, "change");
    }

    /** What the hosts can offer now; 503 when no host is connected. */
    public VmValidator.Capacity capacity() {
        List<HostBoard.Entry> connected = hosts.connectedHosts();
        if (connected.isEmpty()) {
            throw ApiException.unavailable("no-host", "no host is connected; start an agent "
                    + "(./carevisor up starts one for this machine)");
        }
        int cpus = connected.stream().mapToInt(e -> e.inventory().cpus()).max().orElse(0);
        long memory = connected.stream().mapToLong(e -> e.inventory().memoryMiB()).max().orElse(0);
        long storage = connected.stream().mapToLong(e -> e.inventory().storageFreeBytes()).max().orElse(0);
        return new VmValidator.Capacity(cpus, memory, storage);
    }

    VmState observedState(VmRecord vm) {
        return power.observedState(vm);
    }

    /** The task target that names a VM. */
    public static TaskRecord.Target target(VmRecord vm) {
        return new TaskRecord.Target("vm", vm.id(), vm.name());
    }

    /** The definition as it is audited. */
    static Map<String, Object> definition(VmRecord vm) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("name", vm.name());
        m.put("cpus", vm.cpus());
        m.put("memoryMiB", vm.memoryMiB());
        m.put("host", vm.hostId());
        m.put("disks", vm.disks().stream().map(d -> Map.of("id", d.diskId(), "path", d.path(),
                "sizeBytes", d.sizeBytes())).toList());
        m.put("nics", vm.nics().stream().map(n -> Map.of("id", n.nicId(), "mac", n.mac())).toList());
        return m;
    }

    VmView view(VmRecord vm) {
        Optional<ObservedStore.Observed> o = observed.get(vm.id());
        VmState state = observedState(vm);
        String reason;
        String hostName = hosts.get(vm.hostId()).map(e -> e.inventory().hostname()).orElse(null);
        if (state == VmState.UNKNOWN) {
            reason = "host " + (hostName == null ? vm.hostId() : hostName) + " is not reporting"
                    + o.map(x -> "; last seen " + x.status().state().json() + " at " + x.receivedAt()).orElse("");
        } else {
            reason = o.map(x -> x.status().reason()).orElse("never started");
        }
        VmStatus s = o.map(ObservedStore.Observed::status).orElse(null);
        boolean live = s != null && state.hasProcess();
        List<VmView.ForwardView> forwards = new ArrayList<>();
        for (VmRecord.Nic n : vm.nics()) {
            for (VmRecord.Forward f : n.forwards()) {
                String address = live ? s.forwards().stream().filter(x -> x.hostPort() == f.hostPort())
                        .map(PortForward::hostAddress).findFirst().orElse(null) : null;
                forwards.add(new VmView.ForwardView(n.nicId(), f.protocol(), address, f.hostPort(), f.guestPort()));
            }
        }
        VmView.ForwardView http = forwards.stream().filter(f -> f.guestPort() == 80 && f.protocol().equals("tcp"))
                .findFirst().orElse(null);
        String bridgedIp = vm.nics().stream().filter(n -> n.ip() != null).map(VmRecord.Nic::ip).findFirst()
                .orElse(null);
        String clusterName = placement.clusterName(vm.clusterId());
        return new VmView(vm.id(), vm.name(), vm.description(), vm.cpus(), vm.memoryMiB(), vm.powerState(),
                state.json(), reason, s == null || s.cause() == null ? null : s.cause().json(),
                s == null ? null : s.since(), hostName, vm.hostId(), http == null ? null : http.hostPort(),
                http != null && http.hostAddress() != null ? "http://" + http.hostAddress() + ":" + http.hostPort() + "/"
                        : live && bridgedIp != null ? "http://" + bridgedIp + "/" : null,
                forwards,
                vm.disks().stream().map(d -> new VmView.DiskView(d.diskId(), d.path(), d.format(), d.sizeBytes(),
                        d.sourceImageId(), d.baseTemplateId())).toList(),
                vm.nics().stream().map(n -> new VmView.NicView(n.nicId(), n.mac(), n.network(), n.ip())).toList(),
                vm.lifecycle(), live ? s.pid() : null, s == null ? null : s.startedAt(),
                s == null ? null : s.exitCode(), vm.specVersion(), vm.createdAt(), vm.updatedAt(), vm.templateId(),
                vm.currentSnapshotId(), vm.archivePath(), vm.archivedAt(), clusterName, vm.clusterId(),
                vm.onLocalStorage() ? "local" : "shared", vm.lastMigratedAt(), vm.gxp());
    }
}
