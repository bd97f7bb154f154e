package org.carevisor.manager.api;

import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.auth.Privilege;
import org.carevisor.manager.auth.Scope;
import org.carevisor.manager.db.Database;
import org.carevisor.manager.host.HostBoard;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.host.ReportIngest;
import org.carevisor.manager.image.ImageCatalog;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.snapshot.SnapshotService;
import org.carevisor.manager.template.TemplateService;
import org.carevisor.manager.transfer.TransferService;
import org.carevisor.manager.vm.VmPowerService;
import org.carevisor.manager.vm.VmRequests;
import org.carevisor.manager.vm.VmService;
import org.carevisor.manager.vm.VmView;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.ProtocolJson;

/** Every endpoint of the manager, each a thin translation between HTTP and a domain service. */
public final class ApiRoutes {
    /** Receives the routes. */
    public interface Registrar {
        void add(String method, String path, Handler handler);
    }

    private final VmService vms;
    private final VmPowerService power;
    private final TaskService tasks;
    private final HostRepository hostRepo;
    private final HostBoard board;
    private final ImageCatalog images;
    private final AuditLog audit;
    private final Database db;
    private final Instant startedAt = Instant.now();
    private final String version;
    private final LifecycleRoutes lifecycle;
    private final HostAdminRoutes security;
    private final ClusterRoutes clusterRoutes;
    private final org.carevisor.manager.placement.PlacementService placement;
    private final SecurityRoutes securityRoutes;
    private final HaRoutes haRoutes;

    public ApiRoutes(VmService vms, VmPowerService power, TaskService tasks, HostRepository hostRepo, HostBoard board,
                     ImageCatalog images, AuditLog audit, Database db, String version, TemplateService templates,
                     SnapshotService snapshots, TransferService transfer, HostAdminRoutes security,
                     ClusterRoutes clusterRoutes, org.carevisor.manager.placement.PlacementService placement,
                     SecurityRoutes securityRoutes, HaRoutes haRoutes) {
        this.vms = vms;
        this.power = power;
        this.tasks = tasks;
        this.hostRepo = hostRepo;
        this.board = board;
        this.images = images;
        this.audit = audit;
        this.db = db;
        this.version = version;
        this.lifecycle = new LifecycleRoutes(templates, snapshots, transfer, vms);
        this.security = security;
        this.clusterRoutes = clusterRoutes;
        this.placement = placement;
        this.securityRoutes = securityRoutes;
        this.haRoutes = haRoutes;
    }

    void register(Registrar r) {
        String v = "/api/v1";
        security.register(r); // first: /hosts/join-tokens must win over /hosts/{id}
        r.add("GET", v + "/health", this::health);
        r.add("GET", v + "/openapi.json", ctx -> ApiServer.resource(ctx, "/openapi.json", "application/json"));
        r.add("GET", v + "/hosts", ctx -> {
            var p = Guard.principal(ctx);
            ctx.json(hostRepo.list().stream().filter(h -> p.may(Privilege.SYS_VIEW, Scope.ofHost(h.clusterId(), h.id())))
                    .map(this::hostView).toList());
        });
        r.add("GET", v + "/hosts/{id}", ctx -> ctx.json(hostView(security.hosts().get(ctx.pathParam("id")))));
        r.add("GET", v + "/images", ctx -> ctx.json(images.list()));
        r.add("GET", v + "/vms", ctx -> ctx.json(visibleVms(ctx)));
        r.add("POST", v + "/vms", ctx -> LifecycleRoutes.created(ctx, vms.create(Json.read(ctx.bodyAsBytes(),
                VmRequests.Create.class), ApiServer.actor(ctx))));
        r.add("GET", v + "/vms/{id}", ctx -> ctx.json(vms.view(ctx.pathParam("id"))));
        r.add("PATCH", v + "/vms/{id}", ctx -> ctx.json(vms.patch(ctx.pathParam("id"),
                Json.read(ctx.bodyAsBytes(), VmRequests.Patch.class), ApiServer.actor(ctx))));
        r.add("DELETE", v + "/vms/{id}", ctx -> accepted(ctx, vms.delete(ctx.pathParam("id"),
                booleanQuery(ctx, "force"), ApiServer.actor(ctx))));
        r.add("POST", v + "/vms/{id}/start", ctx -> accepted(ctx, power.start(id(ctx), ApiServer.actor(ctx))));
        r.add("POST", v + "/vms/{id}/shutdown", ctx -> {
            VmRequests.Shutdown body = ctx.bodyAsBytes().length == 0 ? new VmRequests.Shutdown(null)
                    : Json.read(ctx.bodyAsBytes(), VmRequests.Shutdown.class);
            accepted(ctx, power.shutdown(id(ctx), body.timeoutSeconds(), ApiServer.actor(ctx)));
        });
        r.add("POST", v + "/vms/{id}/poweroff", ctx -> accepted(ctx, power.powerOff(id(ctx), ApiServer.actor(ctx))));
        r.add("POST", v + "/vms/{id}/reboot", ctx -> accepted(ctx, power.reboot(id(ctx), ApiServer.actor(ctx))));
        r.add("POST", v + "/vms/{id}/pause", ctx -> accepted(ctx, power.pause(id(ctx), ApiServer.actor(ctx))));
        r.add("POST", v + "/vms/{id}/resume", ctx -> accepted(ctx, power.resume(id(ctx), ApiServer.actor(ctx))));
        r.add("GET", v + "/vms/{id}/console", ctx -> ctx.json(vms.console(id(ctx),
                longQuery(ctx, "offset", -65536), (int) longQuery(ctx, "max", 65536))));
        r.add("GET", v + "/vms/{id}/history", ctx -> ctx.json(audit.query(vms.get(id(ctx)).id(),
                (int) longQuery(ctx, "limit", 100))));
        r.add("GET", v + "/tasks", ctx -> {
            var p = Guard.principal(ctx);
            List<TaskRecord> all = tasks.list(ctx.queryParam("target"), (int) Math.min(1000, longQuery(ctx, "limit", 50)));
            if (p.mayEverywhere(Privilege.SYS_VIEW)) {
                ctx.json(all);
                return;
            }
            java.util.Set<String> visible = new java.util.HashSet<>();
            visibleVms(ctx).forEach(x -> visible.add(x.id()));
            hostRepo.list().stream().filter(h -> p.may(Privilege.SYS_VIEW, Scope.ofHost(h.clusterId(), h.id())))
                    .forEach(h -> visible.add(h.id()));
            ctx.json(all.stream().filter(t -> t.target() != null && visible.contains(t.target().id())).toList());
        });
        r.add("GET", v + "/tasks/{id}", ctx -> ctx.json(tasks.get(ctx.pathParam("id"))));
        lifecycle.register(r);
        clusterRoutes.register(r, this::hostView);
        haRoutes.register(r);
        securityRoutes.register(r);
    }

    /** The VMs the caller may see. */
    List<VmView> visibleVms(Context ctx) {
        var p = Guard.principal(ctx);
        List<VmView> all = vms.list();
        if (p.mayEverywhere(Privilege.SYS_VIEW)) {
            return all;
        }
        return all.stream().filter(x -> p.may(Privilege.SYS_VIEW, Scope.ofVm(x.clusterId(), x.hostId(), x.id())))
                .toList();
    }

    private static String id(Context ctx) {
        return ctx.pathParam("id");
    }

    private static void accepted(Context ctx, TaskRecord task) {
        LifecycleRoutes.accepted(ctx, task);
    }

    private void health(Context ctx) {
        boolean dbOk = db.healthy();
        List<HostRecord> all = hostRepo.list();
        long connected = all.stream().filter(h -> board.connected(h.id())).count();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", !dbOk ? "down" : connected < all.size() || all.isEmpty() ? "degraded" : "ok");
        body.put("version", version);
        body.put("database", Map.of("status", dbOk ? "ok" : "down", "product", db.product()));
        body.put("hosts", Map.of("total", all.size(), "connected", connected));
        body.put("vms", vms.list().size());
        body.put("startedAt", startedAt);
        body.put("uptimeSeconds", Duration.between(startedAt, Instant.now()).toSeconds());
        ctx.status(dbOk ? 200 : 503).json(body);
    }

    /**
     * A host as the API shows it. {@code status}: connected, not-responding, shutting-down; {@code maintenance}:
     * none, entering (VMs still run there) or in-maintenance.
     */
    public record HostView(String id, String name, String status, Instant lastSeen, Instant firstSeen,
                           String endpoint, int cpus, String cpuModel, long memoryMiB, long memoryAvailableMiB,
                           String storagePath, long storageTotalBytes, long storageFreeBytes, String qemuVersion,
                           String accelerator, List<String> warnings, String agentVersion, int vmCount,
                           int runningVms, String cluster, String clusterId, List<String> tags, String maintenance,
                           String maintenanceReason, Instant maintenanceSince, int reservedMemoryMiB,
                           int committedCpus, long committedMemoryMiB, String storageDomainId,
                           long localStorageFreeBytes, List<String> bridges, List<String> cpuModels,
                           String migrationAddress, String description) {
    }

    private HostView hostView(HostRecord h) {
        HostBoard.Entry live = board.get(h.id()).orElse(null);
        HostInventory inv = live == null ? h.inventory() : live.inventory();
        Instant lastSeen = live == null ? h.lastSeen() : live.receivedAt();
        List<VmView> all = vms.list().stream().filter(v -> h.id().equals(v.hostId())).toList();
        int running = (int) all.stream().filter(v -> !v.state().equals("stopped") && !v.state().equals("crashed")
                && !v.state().equals("unknown")).count();
        String status = !board.connected(h.id()) ? "not-responding" : inv.shuttingDown() ? "shutting-down" : "connected";
        String maintenance = !h.maintenance() ? "none" : running > 0 ? "entering" : "in-maintenance";
        var state = placement.hostStates(h.clusterId()).stream().filter(x -> x.id().equals(h.id())).findFirst();
        return new HostView(h.id(), inv.hostname(), status, lastSeen,
                h.firstSeen(), inv.endpoint(), inv.cpus(), inv.cpuModelName(), inv.memoryMiB(),
                inv.memoryAvailableMiB(), inv.storagePath(), inv.storageTotalBytes(), inv.storageFreeBytes(),
                inv.qemuVersion(), inv.accelerator(), inv.warnings(), inv.agentVersion(), all.size(), running,
                placement.clusterName(h.clusterId()), h.clusterId(), h.tags(), maintenance, h.maintenanceReason(),
                h.maintenanceSince(), h.reservedMemoryMiB(), state.map(x -> x.committedCpus()).orElse(0),
                state.map(x -> x.committedMemoryMiB()).orElse(0L), inv.storageDomainId(), inv.localStorageFreeBytes(),
                inv.bridges(), inv.cpuModels(), inv.migrationAddress(), h.description());
    }

    private static boolean booleanQuery(Context ctx, String name) {
        String v = ctx.queryParam(name);
        if (v == null || v.isEmpty() || v.equals("false")) {
            return false;
        }
        if (v.equals("true")) {
            return true;
        }
        throw ApiException.invalid(name, "must be true or false, not '" + v + "'");
    }

    private static long longQuery(Context ctx, String name, long fallback) {
        String v = ctx.queryParam(name);
        if (v == null || v.isEmpty()) {
            return fallback;
        }
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw ApiException.invalid(name, "must be a whole number, not '" + v + "'");
        }
    }
}
