package org.carevisor.manager.template;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.host.AgentCallException;
import org.carevisor.manager.host.AgentClient;
import org.carevisor.manager.host.HostBoard;
import org.carevisor.manager.snapshot.SnapshotRepository;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.vm.DiskSource;
import org.carevisor.manager.vm.Lifecycle;
import org.carevisor.manager.vm.ObservedStore;
import org.carevisor.manager.vm.VmNames;
import org.carevisor.manager.vm.VmPowerService;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.manager.vm.VmRequests;
import org.carevisor.manager.vm.VmService;
import org.carevisor.manager.vm.VmValidator;
import org.carevisor.protocol.FileMoveRequest;
import org.carevisor.protocol.VmState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Templates (master VMs): made from a stopped VM whose disks become read-only base images, qualified by
 * recording the SHA-256 of every base image, retired when no longer to be used, and deployed as linked or
 * full clones with a new identity. A qualified template's checksums are verified before every deployment;
 * a mismatch refuses the deployment and creates nothing. Thread-safe.
 */
public final class TemplateService {
    private static final Logger LOG = LoggerFactory.getLogger(TemplateService.class);

    private final TemplateRepository repo;
    private final VmRepository vmRepo;
    private final VmService vms;
    private final VmPowerService power;
    private final SnapshotRepository snapshots;
    private final ObservedStore observed;
    private final HostBoard hosts;
    private final AgentClient agents;
    private final TaskService tasks;
    private final AuditLog audit;

    public TemplateService(TemplateRepository repo, VmRepository vmRepo, VmService vms, VmPowerService power,
                           SnapshotRepository snapshots, ObservedStore observed, HostBoard hosts, AgentClient agents,
                           TaskService tasks, AuditLog audit) {
        this.repo = repo;
        this.vmRepo = vmRepo;
        this.vms = vms;
        this.power = power;
        this.snapshots = snapshots;
        this.observed = observed;
        this.hosts = hosts;
        this.agents = agents;
        this.tasks = tasks;
        this.audit = audit;
    }

    /** A template with the VMs that depend on it. */
    public record TemplateView(String id, String name, int version, String label, String description, String guestOs,
                               String owner, TemplateState state, int cpus, int memoryMiB,
                               List<TemplateRecord.Nic> nics, List<TemplateRecord.Disk> disks, String sourceVmName,
                               String parentTemplateId, Instant createdAt, Instant qualifiedAt, String qualifiedBy,
                               Instant retiredAt, String retiredBy, List<String> linkedClones) {
    }

    public List<TemplateView> list() {
        return repo.list().stream().map(this::view).toList();
    }

    public TemplateView view(String ref) {
        return view(get(ref));
    }

    private TemplateView view(TemplateRecord t) {
        return new TemplateView(t.id(), t.name(), t.version(), t.label(), t.description(), t.guestOs(), t.owner(),
                t.state(), t.cpus(), t.memoryMiB(), t.nics(), t.disks(), t.sourceVmName(), t.parentTemplateId(),
                t.createdAt(), t.qualifiedAt(), t.qualifiedBy(), t.retiredAt(), t.retiredBy(),
                vmRepo.linkedCloneNames(t.id()));
    }

    /** A template by id, by {@code name@version}, or by name (its highest version). */
    public TemplateRecord get(String ref) {
        var byId = repo.find(ref);
        if (byId.isPresent()) {
            return byId.get();
        }
        int at = ref.lastIndexOf('@');
        if (at > 0) {
            String name = ref.substring(0, at);
            String version = ref.substring(at + 1);
            return repo.byName(name).stream().filter(t -> Integer.toString(t.version()).equals(version)).findFirst()
                    .orElseThrow(() -> ApiException.notFound("template", ref));
        }
        return repo.byName(ref).stream().findFirst().orElseThrow(() -> ApiException.notFound("template", ref));
    }

    /** Turns a stopped VM into a template: its disks become the template's read-only base images. */
    public TaskRecord create(TemplateRequests.Create request, Actor actor) {
        if (request.vm() == null || request.vm().isBlank()) {
            throw ApiException.invalid("vm", "is required: the id or name of a stopped VM");
        }
        VmRecord vm = vms.get(request.vm());
        Lifecycle.requireReady(vm, "make a template of");
        if (vm.gxp()) {
            throw ApiException.conflict("vm-gxp", "vm", "VM '" + vm.name() + "' is marked GxP; a template made of it"
                    + " would not be, so its disks would lose that protection - remove the GxP mark first (a signed"
                    + " change: PATCH /api/v1/vms/" + vm.name() + " {\"gxp\": false, \"signature\": ...})");
        }
        VmState state = power.observedState(vm);
        if (state.hasProcess() || state == VmState.UNKNOWN) {
            throw ApiException.conflict("vm-running", "VM '" + vm.name() + "' is " + state.json()
                    + "; only a stopped VM can become a template - shut it down first");
        }
        int snapshotCount = snapshots.count(vm.id());
        if (snapshotCount > 0) {
            throw ApiException.conflict("vm-has-snapshots", "VM '" + vm.name() + "' has " + snapshotCount
                    + " snapshot(s); delete them first so that the template's base images hold one state");
        }
        TemplateRecord parent = vm.templateId() == null ? null : repo.find(vm.templateId()).orElse(null);
        String name = request.name() != null ? request.name() : parent != null ? parent.name() : vm.name();
        String problem = VmNames.problem(name);
        if (problem != null) {
            throw ApiException.invalid("name", problem);
        }
        if (request.description() != null && request.description().length() > 1000) {
            throw ApiException.invalid("description", "must be at most 1000 characters");
        }
        if (request.guestOs() != null && request.guestOs().length() > 255) {
            throw ApiException.invalid("guestOs", "must be at most 255 characters");
        }
        String endpoint = power.connectedEndpoint(vm);
        String id = UUID.randomUUID().toString();
        return tasks.submit("template.create", new TaskRecord.Target("template", id, name), actor, vm.id(), ctx -> {
            int version = repo.nextVersion(name);
            List<TemplateRecord.Disk> bases = new ArrayList<>();
            List<String[]> renamed = new ArrayList<>();
            try {
                for (VmRecord.Disk d : vm.disks()) {
                    String base = "templates/" + id + "/" + d.diskId() + "." + d.format();
                    // A linked clone's overlay is flattened into an independent base; other disks are renamed.
                    boolean copy = d.baseTemplateId() != null;
                    ctx.progress(10 + 70 * bases.size() / vm.disks().size(), (copy ? "flattening " : "moving ")
                            + d.diskId());
                    agents.move(endpoint, new FileMoveRequest(d.path(), base, copy, true, d.format()));
                    if (!copy) {
                        renamed.add(new String[] {d.path(), base, d.format()});
                    }
                    bases.add(new TemplateRecord.Disk(d.diskId(), d.position(), base, d.format(), d.sizeBytes(), null));
                }
            } catch (Exception e) {
                rollbackMove(endpoint, id, renamed);
                throw e;
            }
            TemplateRecord t = new TemplateRecord(id, name, version, request.description(), request.guestOs(),
                    actor.name(), TemplateState.DRAFT, vm.cpus(), vm.memoryMiB(), nics(vm), vm.id(), vm.name(),
                    parent == null ? null : parent.id(), Instant.now(), null, null, null, null, bases);
            repo.jdbi().useTransaction(h -> {
                repo.insert(h, t);
                vmRepo.delete(h, vm.id());
                audit.record(h, new AuditLog.Entry(actor, "template.create", "template", id, t.label(), null,
                        describe(t), "made from VM '" + vm.name() + "'", Outcome.SUCCESS, ctx.taskId()));
                audit.record(h, new AuditLog.Entry(actor, "vm.convert-to-template", "vm", vm.id(), vm.name(),
                        Map.of("name", vm.name()), Map.of("template", id), "became template " + t.label(),
                        Outcome.SUCCESS, ctx.taskId()));
            });
            observed.remove(vm.id());
            cleanUp(endpoint, vm.id());
            ctx.message("template " + t.label() + " made from VM " + vm.name() + " (state draft)");
        });
    }

    private void rollbackMove(String endpoint, String templateId, List<String[]> renamed) {
        for (String[] r : renamed) {
            try {
                agents.move(endpoint, new FileMoveRequest(r[1], r[0], false, false, r[2]));
            } catch (AgentCallException e) {
                LOG.error("could not move {} back to {} after a failed template creation: {}", r[1], r[0],
                        e.getMessage());
            }
        }
        try {
            agents.deleteFiles(endpoint, "templates/" + templateId);
        } catch (AgentCallException e) {
            LOG.warn("could not remove templates/{} after a failed template creation: {}", templateId, e.getMessage());
        }
    }

    private void cleanUp(String endpoint, String vmId) {
        try {
            agents.deleteVmDisks(endpoint, vmId);
            agents.undefine(endpoint, vmId);
        } catch (AgentCallException e) {
            LOG.warn("leftover files of VM {} could not be removed: {}", vmId, e.getMessage());
        }
    }

    private static List<TemplateRecord.Nic> nics(VmRecord vm) {
        return vm.nics().stream().map(n -> new TemplateRecord.Nic(n.network(), n.forwards().stream()
                .map(f -> new TemplateRecord.Forward(f.protocol(), f.guestPort())).toList())).toList();
    }

    /** Records the SHA-256 of every base image and marks the template qualified. */
    public TaskRecord qualify(String ref, String reason, Actor actor) {
        TemplateRecord t = get(ref);
        requireTransition(t, TemplateState.QUALIFIED);
        String endpoint = hosts.anyConnectedEndpoint();
        return tasks.submit("template.qualify", target(t), actor, "template:" + t.id(), ctx -> {
            ctx.progress(10, "computing SHA-256 of the base images");
            Map<String, String> byPath = agents.checksums(endpoint, t.disks().stream()
                    .map(TemplateRecord.Disk::path).toList()).sha256();
            Map<String, String> byDisk = new LinkedHashMap<>();
            t.disks().forEach(d -> byDisk.put(d.diskId(), byPath.get(d.path())));
            Instant at = Instant.now();
            repo.jdbi().useTransaction(h -> {
                repo.qualify(h, t.id(), byDisk, actor.name(), at);
                audit.record(h, new AuditLog.Entry(actor, "template.qualify", "template", t.id(), t.label(),
                        Map.of("state", t.state().json()), Map.of("state", "qualified", "sha256", byDisk), reason,
                        Outcome.SUCCESS, ctx.taskId()));
            });
            ctx.message("template " + t.label() + " qualified; base image checksums recorded");
        });
    }

    /** Retires a template: no more deployments; VMs made from it keep running. */
    public TemplateView retire(String ref, String reason, Actor actor) {
        TemplateRecord t = get(ref);
        requireTransition(t, TemplateState.RETIRED);
        repo.jdbi().useTransaction(h -> {
            repo.retire(h, t.id(), actor.name(), Instant.now());
            audit.record(h, new AuditLog.Entry(actor, "template.retire", "template", t.id(), t.label(),
                    Map.of("state", t.state().json()), Map.of("state", "retired"), reason, Outcome.SUCCESS, null));
        });
        return view(t.id());
    }

    /** Deletes a template and its base images; refused while linked clones use them. */
    public TaskRecord delete(String ref, Actor actor) {
        TemplateRecord t = get(ref);
        List<String> dependents = vmRepo.linkedCloneNames(t.id());
        if (!dependents.isEmpty()) {
            throw ApiException.conflict("template-in-use", "template " + t.label() + " is the base of linked clones "
                    + String.join(", ", dependents) + "; delete those VMs first");
        }
        String endpoint = hosts.anyConnectedEndpoint();
        return tasks.submit("template.delete", target(t), actor, "template:" + t.id(), ctx -> {
            List<String> again = vmRepo.linkedCloneNames(t.id());
            if (!again.isEmpty()) {
                throw ApiException.conflict("template-in-use", "template " + t.label()
                        + " became the base of linked clones " + String.join(", ", again));
            }
            agents.deleteFiles(endpoint, "templates/" + t.id());
            repo.jdbi().useTransaction(h -> {
                repo.delete(h, t.id());
                audit.record(h, new AuditLog.Entry(actor, "template.delete", "template", t.id(), t.label(),
                        describe(t), null, null, Outcome.SUCCESS, ctx.taskId()));
            });
            ctx.message("template " + t.label() + " and its base images deleted");
        });
    }

    /** Deploys a VM from a template as a linked or full clone, with a new identity. */
    public VmService.Created deploy(String ref, TemplateRequests.Deploy request, Actor actor) {
        TemplateRecord t = get(ref);
        if (t.state() == TemplateState.RETIRED) {
            throw ApiException.conflict("template-retired", "template " + t.label()
                    + " is retired and cannot be deployed; VMs already made from it keep running");
        }
        String mode = request.mode() == null ? "linked" : request.mode().toLowerCase(Locale.ROOT);
        if (!mode.equals("linked") && !mode.equals("full")) {
            throw ApiException.invalid("mode", "must be 'linked' (an overlay on the base image) or 'full' (a copy)");
        }
        boolean linked = mode.equals("linked");
        int cpus = request.cpus() == null ? t.cpus() : request.cpus();
        int memory = request.memoryMiB() == null ? t.memoryMiB() : request.memoryMiB();
        VmValidator.Capacity capacity = vms.capacity();
        VmValidator.checkNew(request.name(), request.description(), cpus, memory, capacity);
        long needed = linked ? (1L << 20) * t.disks().size()
                : t.disks().stream().mapToLong(TemplateRecord.Disk::sizeBytes).sum();
        if (needed > capacity.storageFreeBytes()) {
            throw ApiException.invalid("mode", "a " + mode + " clone needs " + (needed >> 20) + " MiB but the storage"
                    + " has only " + (capacity.storageFreeBytes() >> 20) + " MiB free");
        }
        List<DiskSource> disks = t.disks().stream().map(d -> (DiskSource) new DiskSource.TemplateBase(t.id(),
                d.path(), d.format(), d.sizeBytes(), linked)).toList();
        List<VmValidator.PlannedNic> nics = t.nics().stream().map(n -> new VmValidator.PlannedNic(n.network(),
                n.forwards().stream().map(f -> new VmRequests.Forward(f.protocol(), f.guestPort(), null)).toList()))
                .toList();
        VmService.PreCheck verify = t.state() == TemplateState.QUALIFIED ? (endpoint, vm) -> verify(t, endpoint, actor)
                : null;
        return vms.provision(new VmService.NewVm(request.name(), request.description(), cpus, memory, nics, t.id()),
                disks, verify, Boolean.TRUE.equals(request.start()), "vm.deploy",
                "deployed from template " + t.label() + " (" + t.state().json() + ") as a " + mode + " clone", actor);
    }

    /** Compares every base image with its qualified SHA-256; a mismatch is audited and refuses the deployment. */
    private void verify(TemplateRecord t, String endpoint, Actor actor) {
        Map<String, String> actual = agents.checksums(endpoint, t.disks().stream().map(TemplateRecord.Disk::path)
                .toList()).sha256();
        List<String> mismatches = new ArrayList<>();
        for (TemplateRecord.Disk d : t.disks()) {
            String found = actual.get(d.path());
            if (!d.sha256().equals(found)) {
                mismatches.add(d.diskId() + " (" + d.path() + ") has SHA-256 " + found + ", qualified as " + d.sha256());
            }
        }
        if (!mismatches.isEmpty()) {
            String detail = "template " + t.label() + " failed verification: " + String.join("; ", mismatches)
                    + ". A base image changed after qualification; the deployment was refused";
            audit.record(new AuditLog.Entry(actor, "template.verify", "template", t.id(), t.label(), null,
                    Map.of("mismatches", mismatches), detail, Outcome.FAILURE, null));
            throw ApiException.conflict("template-tampered", detail);
        }
    }

    private static void requireTransition(TemplateRecord t, TemplateState next) {
        if (!t.state().canBecome(next)) {
            throw ApiException.conflict("template-state", "template " + t.label() + " is " + t.state().json()
                    + " and cannot become " + next.json() + " (draft -> qualified -> retired)");
        }
    }

    private static TaskRecord.Target target(TemplateRecord t) {
        return new TaskRecord.Target("template", t.id(), t.label());
    }

    private static Map<String, Object> describe(TemplateRecord t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", t.name());
        m.put("version", t.version());
        m.put("state", t.state().json());
        m.put("cpus", t.cpus());
        m.put("memoryMiB", t.memoryMiB());
        m.put("disks", t.disks().stream().map(d -> Map.of("id", d.diskId(), "path", d.path())).toList());
        return m;
    }
}
