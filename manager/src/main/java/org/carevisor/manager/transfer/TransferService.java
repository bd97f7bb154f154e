package org.carevisor.manager.transfer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.carevisor.manager.Manager;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.api.Json;
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
import org.carevisor.manager.vm.VmPowerService;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.manager.vm.VmRequests;
import org.carevisor.manager.vm.VmService;
import org.carevisor.manager.vm.VmValidator;
import org.carevisor.protocol.ExportRequest;
import org.carevisor.protocol.ExportResult;
import org.carevisor.protocol.ImportRequest;
import org.carevisor.protocol.ImportResult;
import org.carevisor.protocol.VmState;

/**
 * VMs as portable files: export (disks flattened and hashed, with the definition, in one file), import
 * (every checksum verified before anything exists), archive (a stopped VM's disks and definition go to one
 * file in {@code archive/}, the VM stays as a read-only record) and restore. Thread-safe.
 */
public final class TransferService {
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);
    /** File name extension of Carevisor exports ("Carevisor VM archive"). */
    public static final String EXTENSION = ".cva";

    private final VmService vms;
    private final VmPowerService power;
    private final VmRepository vmRepo;
    private final SnapshotRepository snapshots;
    private final HostBoard hosts;
    private final AgentClient agents;
    private final TaskService tasks;
    private final AuditLog audit;
    private final org.carevisor.manager.placement.PlacementService placement;
    private final org.carevisor.manager.network.NetworkService networks;

    public TransferService(VmService vms, VmPowerService power, VmRepository vmRepo, SnapshotRepository snapshots,
                           HostBoard hosts, AgentClient agents, TaskService tasks, AuditLog audit,
                           org.carevisor.manager.placement.PlacementService placement,
                           org.carevisor.manager.network.NetworkService networks) {
        this.placement = placement;
        this.networks = networks;
        this.vms = vms;
        this.power = power;
        this.vmRepo = vmRepo;
        this.snapshots = snapshots;
        this.hosts = hosts;
        this.agents = agents;
        this.tasks = tasks;
        this.audit = audit;
    }

    /**
     * Import request.
     *
     * @param file     name of the export file in the storage's {@code exports/} directory (e.g.
     *                 {@code ehr-01-20261122-101500.cva}; {@code exports/ehr-01-...cva} is accepted too)
     * @param name     name of the imported VM; default: the exported VM's name
     * @param identity {@code keep} (the exported UUID and MACs; refused if they are in use) or {@code new}
     * @param start    start the VM once imported
     * @param cluster  cluster (id or name) the VM goes to, whose storage holds the file; default: the default
     */
    public record Import(String file, String name, String identity, Boolean start, String cluster) {
    }

    /** Reason for an archive, kept in the audit trail. */
    public record Archive(String reason, org.carevisor.manager.auth.AuthService.SignatureRequest signature) {
    }

    /** Exports a stopped VM into {@code exports/<name>-<UTC time>.cva}. */
    public TaskRecord export(String ref, Actor actor) {
        VmRecord vm = stoppedVm(ref, "export");
        String endpoint = power.connectedEndpoint(vm);
        String target = "exports/" + vm.name() + "-" + STAMP.format(Instant.now()) + EXTENSION;
        return tasks.submit("vm.export", VmService.target(vm), actor, vm.id(), ctx -> {
            ctx.progress(10, "flattening, hashing and packing the disks");
            ExportResult r = agents.export(endpoint, exportRequest(vm, target, actor));
            audit.record(new AuditLog.Entry(actor, "vm.export", "vm", vm.id(), vm.name(), null, fileFacts(r),
                    snapshots.count(vm.id()) > 0 ? "snapshots are not exported; the file holds the current state" : null,
                    Outcome.SUCCESS, ctx.taskId()));
            String root = hosts.get(vm.hostId()).map(e -> e.inventory().storagePath()).orElse(null);
            ctx.message("VM " + vm.name() + " exported to " + (root == null ? r.path() : root.replaceAll("/+$", "")
                    + "/" + r.path()) + " (" + r.sizeBytes() + " bytes, SHA-256 " + r.sha256() + "); import it with"
                    + " carevisor vm import " + r.path().substring(r.path().lastIndexOf('/') + 1));
        });
    }

    /**
     * Imports an export file of the cluster's {@code exports/} directory as a new VM. The manifest is read on a
     * host of the VM's cluster and every value of it is checked like a create ({@link ImportManifest}); the
     * scheduler chooses the host and the file is read there (again, when that is another host, and it must be
     * the same manifest); the task unpacks and verifies every disk on that host and refuses a file whose
     * manifest changed meanwhile. Nothing exists before the file is known to be acceptable.
     */
    public VmService.Created importVm(Import request, Actor actor) {
        String source = ExportFileName.of(request.file());
        String identity = request.identity() == null ? "keep" : request.identity().toLowerCase(Locale.ROOT);
        if (!identity.equals("keep") && !identity.equals("new")) {
            throw ApiException.invalid("identity", "must be 'keep' (the exported UUID and MACs) or 'new'");
        }
        boolean keep = identity.equals("keep");
        org.carevisor.manager.cluster.ClusterRecord cluster = placement.clusterFor(request.cluster(), null);
        VmValidator.Capacity capacity = vms.capacity();
        String firstHost = placement.hostStates(cluster.id()).stream()
                .filter(h -> h.connected() && !h.shuttingDown())
                .sorted(java.util.Comparator.comparing(org.carevisor.manager.placement.Scheduler.HostState::maintenance))
                .map(org.carevisor.manager.placement.Scheduler.HostState::id).findFirst()
                .orElseThrow(() -> ApiException.unavailable("no-host", "no host of cluster '" + cluster.name()
                        + "' is reporting, so its storage cannot be read; start an agent"));
        String manifestJson = inspect(firstHost, source);
        ImportManifest m = ImportManifest.read(manifestJson, request.name(), keep, capacity,
                ref -> networks.find(ref).orElse(null));
        java.util.Set<String> bridges = new java.util.TreeSet<>();
        m.nics().forEach(n -> networks.find(n.network()).filter(org.carevisor.manager.network.NetworkRecord::bridged)
                .ifPresent(net -> bridges.add(net.bridge())));
        String hostId = placement.decide(new org.carevisor.manager.placement.PlacementService.Subject(
                        keep ? m.vmId() : java.util.UUID.randomUUID().toString(), m.name(), cluster.id(), m.cpus(),
                        m.memoryMiB(), bridges, null, null),
                org.carevisor.manager.placement.PlacementService.Purpose.DEFINE, null).hostId().orElse(firstHost);
        if (!hostId.equals(firstHost) && !inspect(hostId, source).equals(manifestJson)) {
            throw ApiException.conflict("export-changed", "file", "the manifest of " + source + " reads differently"
                    + " on the chosen host than on the first; the storage is not the same - nothing was imported");
        }
        List<DiskSource> disks = m.disks().stream()
                .map(d -> (DiskSource) new DiskSource.Imported(d.virtualSizeBytes(), d.format())).toList();
        return vms.provision(new VmService.NewVm(m.name(), m.description(), m.cpus(), m.memoryMiB(), m.nics(), null,
                        keep ? m.vmId() : null, keep ? m.macs() : null, cluster.id(), hostId, false), disks,
                (agentEndpoint, vm) -> {
                    ImportResult r = agents.importFile(agentEndpoint, new ImportRequest(source, "vms/" + vm.id()));
                    if (!r.manifest().equals(manifestJson)) {
                        throw ApiException.conflict("export-changed", "the file " + source + " changed after it was"
                                + " checked; nothing was imported");
                    }
                    List<String> expected = vm.disks().stream().map(VmRecord.Disk::path).toList();
                    List<String> placed = r.disks().stream().map(ImportResult.ImportedDisk::path).toList();
                    if (!placed.equals(expected)) {
                        throw ApiException.conflict("export-changed", "the host placed the disks at " + placed
                                + " instead of " + expected + "; nothing was imported");
                    }
                },
                Boolean.TRUE.equals(request.start()), "vm.import", "imported from " + source + " (identity "
                        + identity + ", exported VM '" + m.exportedName() + "')", actor);
    }

    /** The verified manifest of {@code source} as the agent of {@code hostId} reads it. */
    private String inspect(String hostId, String source) {
        String endpoint = hosts.get(hostId).filter(e -> hosts.connected(hostId)).map(e -> e.inventory().endpoint())
                .orElseThrow(() -> ApiException.unavailable("host-unavailable", "the host is not reporting"));
        try {
            return agents.inspectImport(endpoint, source);
        } catch (AgentCallException e) {
            throw new ApiException(e.status() == 422 ? 422 : e.status() == 400 ? 400 : 409, e.code(),
                    "The export file cannot be imported", e.getMessage(),
                    List.of(new ApiException.FieldError("file", e.getMessage())));
        }
    }

    /**
     * Archives a stopped VM: its disks and definition are written to {@code archive/<id>.cva} and verified,
     * its disks are removed, and the VM stays as a read-only record until it is restored.
     */
    public TaskRecord archive(String ref, String reason, Actor actor) {
        VmRecord vm = stoppedVm(ref, "archive");
        int count = snapshots.count(vm.id());
        if (count > 0) {
            throw ApiException.conflict("vm-has-snapshots", "VM '" + vm.name() + "' has " + count + " snapshot(s);"
                    + " an archive holds one state, so delete them first");
        }
        String endpoint = power.connectedEndpoint(vm);
        String target = "archive/" + vm.id() + EXTENSION;
        return tasks.submit("vm.archive", VmService.target(vm), actor, vm.id(), ctx -> {
            ctx.progress(10, "writing the archive file");
            ExportResult r = agents.export(endpoint, exportRequest(vm, target, actor));
            // The archive is recorded before anything is removed: from here on the file is the VM's data.
            Instant at = Instant.now();
            try {
                vmRepo.jdbi().useTransaction(h -> {
                    vmRepo.setArchive(h, vm.id(), Lifecycle.ARCHIVED, r.path(), at);
                    audit.record(h, new AuditLog.Entry(actor, "vm.archive", "vm", vm.id(), vm.name(),
                            Map.of("lifecycle", "ready"), fileFacts(r), reason, Outcome.SUCCESS, ctx.taskId()));
                });
            } catch (RuntimeException e) {
                agents.deleteFiles(endpoint, r.path());
                throw e;
            }
            ctx.progress(80, "removing the VM's disks");
            try {
                agents.undefine(endpoint, vm.id());
                agents.deleteVmDisks(endpoint, vm.id());
            } catch (RuntimeException e) {
                // The VM is archived; what is left of its old disks goes when it is restored or deleted.
                audit.record(new AuditLog.Entry(actor, "vm.archive.cleanup", "vm", vm.id(), vm.name(), null, null,
                        "archived to " + r.path() + ", but its old disks could not be removed: " + e.getMessage(),
                        Outcome.FAILURE, ctx.taskId()));
                throw ApiException.conflict("archive-cleanup-failed", "VM " + vm.name() + " is archived to "
                        + r.path() + ", but its old disks could not be removed (" + e.getMessage() + "); they are"
                        + " removed when it is restored or deleted");
            }
            ctx.message("VM " + vm.name() + " archived to " + r.path() + " (SHA-256 " + r.sha256() + ")");
        });
    }

    /** Restores an archived VM from its archive file (every checksum verified); the archive file is removed. */
    public TaskRecord restore(String ref, Actor actor) {
        VmRecord vm = vms.get(ref);
        if (vm.lifecycle() != Lifecycle.ARCHIVED) {
            throw ApiException.conflict("vm-not-archived", "VM '" + vm.name() + "' is " + vm.lifecycle().json()
                    + ", not archived");
        }
        String endpoint = power.connectedEndpoint(vm);
        return tasks.submit("vm.restore", VmService.target(vm), actor, vm.id(), ctx -> {
            ctx.progress(10, "unpacking and verifying the archive");
            // an archived VM has no disks; anything left in its directory is from an archive whose cleanup failed
            agents.deleteVmDisks(endpoint, vm.id());
            ImportResult r = agents.importFile(endpoint, new ImportRequest(vm.archivePath(), "vms/" + vm.id()));
            String archivedId = Json.mapper().readTree(r.manifest()).path("vm").path("id").asText();
            if (!archivedId.equals(vm.id())) {
                agents.deleteVmDisks(endpoint, vm.id());
                throw ApiException.conflict("archive-mismatch", "archive " + vm.archivePath() + " holds VM "
                        + archivedId + ", not " + vm.id() + "; nothing was restored");
            }
            vmRepo.jdbi().useTransaction(h -> {
                vmRepo.setArchive(h, vm.id(), Lifecycle.READY, null, null);
                audit.record(h, new AuditLog.Entry(actor, "vm.restore", "vm", vm.id(), vm.name(),
                        Map.of("lifecycle", "archived", "archive", vm.archivePath()), Map.of("lifecycle", "ready"),
                        null, Outcome.SUCCESS, ctx.taskId()));
            });
            agents.deleteFiles(endpoint, vm.archivePath());
            ctx.message("VM " + vm.name() + " restored from " + vm.archivePath());
        });
    }

    private VmRecord stoppedVm(String ref, String what) {
        VmRecord vm = vms.get(ref);
        Lifecycle.requireReady(vm, what);
        VmState state = power.observedState(vm);
        if (state.hasProcess() || state == VmState.UNKNOWN) {
            throw ApiException.conflict("vm-running", "VM '" + vm.name() + "' is " + state.json() + "; only a stopped VM"
                    + " has disks in one consistent state - shut it down first");
        }
        return vm;
    }

    private static ExportRequest exportRequest(VmRecord vm, String target, Actor actor) {
        ObjectNode manifest = Json.mapper().createObjectNode();
        manifest.put("kind", "carevisor-vm");
        manifest.put("exportedAt", Instant.now().toString());
        manifest.put("exportedBy", actor.name());
        manifest.put("managerVersion", Manager.VERSION);
        ObjectNode v = manifest.putObject("vm");
        v.put("id", vm.id());
        v.put("name", vm.name());
        if (vm.description() != null) {
            v.put("description", vm.description());
        }
        v.put("cpus", vm.cpus());
        v.put("memoryMiB", vm.memoryMiB());
        v.put("machine", vm.machine());
        v.put("cpuModel", vm.cpuModel());
        if (vm.templateId() != null) {
            v.put("templateId", vm.templateId());
        }
        ArrayNode nics = v.putArray("nics");
        for (VmRecord.Nic n : vm.nics()) {
            ObjectNode nic = nics.addObject().put("id", n.nicId()).put("mac", n.mac()).put("network", n.network());
            ArrayNode forwards = nic.putArray("forwards");
            n.forwards().forEach(f -> forwards.addObject().put("protocol", f.protocol()).put("guestPort", f.guestPort()));
        }
        List<ExportRequest.Disk> disks = vm.disks().stream()
                .map(d -> new ExportRequest.Disk(d.diskId(), d.path(), d.format())).toList();
        return new ExportRequest(target, Json.write(manifest), disks);
    }

    private static Map<String, Object> fileFacts(ExportResult r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("file", r.path());
        m.put("bytes", r.sizeBytes());
        m.put("sha256", r.sha256());
        m.put("disks", r.disks().stream().map(d -> Map.of("id", d.id(), "sha256", d.sha256())).toList());
        return m;
    }
}
