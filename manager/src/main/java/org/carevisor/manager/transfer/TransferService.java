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

    public TransferService(VmService vms, VmPowerService power, VmRepository vmRepo, SnapshotRepository snapshots,
                           HostBoard hosts, AgentClient agents, TaskService tasks, AuditLog audit) {
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
     * @param file     export file, relative to the storage root (e.g. {@code exports/ehr-01-20261122-101500.cva})
     * @param name     name of the imported VM; default: the exported VM's name
     * @param identity {@code keep} (the exported UUID and MACs; refused if they are in use) or {@code new}
     * @param start    start the VM once imported
     */
    public record Import(String file, String name, String identity, Boolean start) {
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
            ctx.message("VM " + vm.name() + " exported to " + r.path() + " (" + r.sizeBytes() + " bytes, SHA-256 "
                    + r.sha256() + ")");
        });
    }

    /** Imports an export file as a new VM, after verifying the manifest now and every disk in the task. */
    public VmService.Created importVm(Import request, Actor actor) {
        if (request.file() == null || request.file().isBlank()) {
            throw ApiException.invalid("file", "is required: the export file's path in the storage, e.g. exports/x.cva");
        }
        String identity = request.identity() == null ? "keep" : request.identity().toLowerCase(Locale.ROOT);
        if (!identity.equals("keep") && !identity.equals("new")) {
            throw ApiException.invalid("identity", "must be 'keep' (the exported UUID and MACs) or 'new'");
        }
        String endpoint = hosts.anyConnectedEndpoint();
        JsonNode manifest;
        try {
            manifest = Json.mapper().readTree(agents.inspectImport(endpoint, request.file()));
        } catch (AgentCallException e) {
            throw new ApiException(e.status() == 422 ? 422 : e.status() == 400 ? 400 : 409, e.code(),
                    "The export file cannot be imported", e.getMessage(),
                    List.of(new ApiException.FieldError("file", e.getMessage())));
        } catch (IOException e) {
            throw new ApiException(422, "invalid-export", "The export file cannot be imported",
                    "its manifest is not valid JSON: " + e.getMessage(), null);
        }
        JsonNode v = manifest.path("vm");
        String name = request.name() != null ? request.name() : v.path("name").asText();
        int cpus = v.path("cpus").asInt();
        int memory = v.path("memoryMiB").asInt();
        VmValidator.checkNew(name, v.path("description").asText(null), cpus, memory, vms.capacity());
        List<VmValidator.PlannedNic> nics = new ArrayList<>();
        List<String> macs = new ArrayList<>();
        for (JsonNode n : v.path("nics")) {
            List<VmRequests.Forward> forwards = new ArrayList<>();
            for (JsonNode f : n.path("forwards")) {
                forwards.add(new VmRequests.Forward(f.path("protocol").asText("tcp"), f.path("guestPort").asInt(), null));
            }
            nics.add(new VmValidator.PlannedNic(n.path("network").asText("user"), forwards));
            macs.add(n.path("mac").asText());
        }
        List<DiskSource> disks = new ArrayList<>();
        for (JsonNode d : manifest.path("disks")) {
            disks.add(new DiskSource.Imported(d.path("virtualSizeBytes").asLong(), d.path("format").asText()));
        }
        boolean keep = identity.equals("keep");
        String source = request.file();
        return vms.provision(new VmService.NewVm(name, v.path("description").asText(null), cpus, memory, nics, null,
                        keep ? v.path("id").asText() : null, keep ? macs : null), disks,
                (agentEndpoint, vm) -> agents.importFile(agentEndpoint, new ImportRequest(source, "vms/" + vm.id())),
                Boolean.TRUE.equals(request.start()), "vm.import", "imported from " + source + " (identity "
                        + identity + ", exported VM '" + v.path("name").asText() + "')", actor);
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
            ctx.progress(80, "removing the VM's disks");
            agents.deleteVmDisks(endpoint, vm.id());
            agents.undefine(endpoint, vm.id());
            Instant at = Instant.now();
            vmRepo.jdbi().useTransaction(h -> {
                vmRepo.setArchive(h, vm.id(), Lifecycle.ARCHIVED, r.path(), at);
                audit.record(h, new AuditLog.Entry(actor, "vm.archive", "vm", vm.id(), vm.name(),
                        Map.of("lifecycle", "ready"), fileFacts(r), reason, Outcome.SUCCESS, ctx.taskId()));
            });
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
