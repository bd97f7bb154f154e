package org.carevisor.manager.api;

import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditQueries;
import org.carevisor.manager.auth.ScopeFilter;
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
    /** Largest piece of a serial console log one request returns (the agent's own bound). */
    static final int CONSOLE_MAX = 256 * 1024;

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
    private final AuditQueries history;
    private final Instant startedAt = Instant.now();
    private final String version;
    private final LifecycleRoutes lifecycle;
    private final HostAdminRoutes security;
    private final ClusterRoutes clusterRoutes;
    private final org.carevisor.manager.placement.PlacementService placement;
    private final SecurityRoutes securityRoutes;
    private final HaRoutes haRoutes;
    private org.carevisor.manager.jobs.JobSupervisor jobs;

    private final org.carevisor.manager.alarm.Alarms alarms;

    public ApiRoutes(VmService vms, VmPowerService power, TaskService tasks, HostRepository hostRepo, HostBoard board,
                     ImageCatalog images, AuditLog audit, Database db, String version, TemplateService templates,
                     SnapshotService snapshots, TransferService transfer, HostAdminRoutes security,
                     ClusterRoutes clusterRoutes, org.carevisor.manager.placement.PlacementService placement,
                     SecurityRoutes securityRoutes, HaRoutes haRoutes, org.carevisor.manager.alarm.Alarms alarms,
                     SiteRoutes siteRoutes) {
        this.alarms = alarms;
        this.siteRoutes = siteRoutes;
        this.vms = vms;
        this.power = power;
        this.tasks = tasks;
        this.hostRepo = hostRepo;
        this.board = board;
        this.images = images;
        this.audit = audit;
        this.db = db;
        this.history = new AuditQueries(audit);
        this.version = version;
        this.lifecycle = new LifecycleRoutes(templates, snapshots, transfer, vms);
        this.security = security;
        this.clusterRoutes = clusterRoutes;
        this.placement = placement;
        this.securityRoutes = securityRoutes;
        this.haRoutes = haRoutes;
    }

    /** The periodic jobs whose alarms the health answer shows. */
    public ApiRoutes jobs(org.carevisor.manager.jobs.JobSupervisor supervisor) {
        this.jobs = supervisor;
        return this;
    }

    private final SiteRoutes siteRoutes;

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
        r.add("POST", v + "/vms", ctx -> LifecycleRoutes.created(ctx, vms.create(RequestBody.read(ctx, VmRequests.Create.class), ApiServer.actor(ctx))));
        r.add("GET", v + "/vms/{id}", ctx -> ctx.json(vms.view(ctx.pathParam("id"))));
        r.add("PATCH", v + "/vms/{id}", ctx -> ctx.json(vms.patch(ctx.pathParam("id"),
                RequestBody.read(ctx, VmRequests.Patch.class), ApiServer.actor(ctx))));
        r.add("DELETE", v + "/vms/{id}", ctx -> accepted(ctx, vms.delete(ctx.pathParam("id"),
                booleanQuery(ctx, "force"), ApiServer.actor(ctx))));
        r.add("POST", v + "/vms/{id}/start", ctx -> accepted(ctx, power.start(id(ctx), ApiServer.actor(ctx))));
        r.add("POST", v + "/vms/{id}/shutdown", ctx -> {
            VmRequests.Shutdown body = RequestBody.readOr(ctx, VmRequests.Shutdown.class, new VmRequests.Shutdown(null));
            accepted(ctx, power.shutdown(id(ctx), body.timeoutSeconds(), ApiServer.actor(ctx)));
        });
        r.add("POST", v + "/vms/{id}/poweroff", ctx -> accepted(ctx, power.powerOff(id(ctx), ApiServer.actor(ctx))));
        r.add("POST", v + "/vms/{id}/reboot", ctx -> accepted(ctx, power.reboot(id(ctx), ApiServer.actor(ctx))));
        r.add("POST", v + "/vms/{id}/pause", ctx -> accepted(ctx, power.pause(id(ctx), ApiServer.actor(ctx))));
        r.add("POST", v + "/vms/{id}/resume", ctx -> accepted(ctx, power.resume(id(ctx), ApiServer.actor(ctx))));
        r.add("GET", v + "/vms/{id}/console", ctx -> ctx.json(vms.console(id(ctx),
                longQuery(ctx, "offset", -65536), Paging.number(ctx, "max", 65536, 1, CONSOLE_MAX))));
        r.add("GET", v + "/vms/{id}/history", ctx -> {
            Paging page = Paging.of(ctx, 100, 1000);
            ctx.json(history.ofVm(vms.get(id(ctx)).id(), page.limit(), page.offset()));
        });
        r.add("GET", v + "/tasks", ctx -> {
            Paging page = Paging.of(ctx, 50, 1000);
            ctx.json(tasks.list(ctx.queryParam("target"), ScopeFilter.of(Guard.principal(ctx), Privilege.SYS_VIEW),
                    Guard.principal(ctx).username(), page.limit(), page.offset()));
        });
        r.add("GET", v + "/tasks/{id}", ctx -> ctx.json(tasks.get(ctx.pathParam("id"))));
        lifecycle.register(r);
        clusterRoutes.register(r, this::hostView);
        haRoutes.register(r);
        siteRoutes.register(r);
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
        List<org.carevisor.manager.jobs.JobSupervisor.Status> jobStatus = jobs == null ? List.of() : jobs.status();
        // why it is degraded beyond the hosts: active alarms, each with a stable code, a reason and since when
        // (the manager's own, e.g. audit-integrity, and one job-<name> per periodic job in alarm)
        List<org.carevisor.manager.alarm.Alarms.Alarm> raised = new java.util.ArrayList<>(alarms.active());
        jobStatus.stream().filter(j -> j.alarm() != null).forEach(j -> raised.add(new org.carevisor.manager.alarm
                .Alarms.Alarm("job-" + j.name(), j.alarm(), j.lastFailureAt() != null ? j.lastFailureAt()
                : j.lastPassAt() != null ? j.lastPassAt() : startedAt)));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", !dbOk ? "down" : connected < all.size() || all.isEmpty() || !raised.isEmpty() ? "degraded"
                : "ok");
        body.put("version", version);
        body.put("database", Map.of("status", dbOk ? "ok" : "down", "product", db.product()));
        body.put("hosts", Map.of("total", all.size(), "connected", connected));
        body.put("vms", vms.list().size());
        body.put("startedAt", startedAt);
        body.put("uptimeSeconds", Duration.between(startedAt, Instant.now()).toSeconds());
        body.put("alarms", raised);
        body.put("jobs", jobStatus.stream().map(ApiRoutes::jobView).toList());
        org.carevisor.manager.auth.Principal caller = Guard.optionalPrincipal(ctx);
        if (caller == null || !caller.mayAnywhere(org.carevisor.manager.auth.Privilege.SYS_VIEW)) {
            // anyone may ask whether the manager is up; what is wrong (alarms, jobs, hosts) only a logged-in viewer
            Map<String, Object> brief = new LinkedHashMap<>();
            brief.put("status", body.get("status"));
            brief.put("version", version);
            brief.put("details", "log in (Sys.View) to see hosts, alarms and jobs");
            ctx.status(dbOk ? 200 : 503).json(brief);
            return;
        }
        ctx.status(dbOk ? 200 : 503).json(body);
    }

    /** A periodic job in the health answer: its state and progress (the error's class only, never its text). */
    private static Map<String, Object> jobView(org.carevisor.manager.jobs.JobSupervisor.Status j) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", j.name());
        m.put("state", j.state());
        m.put("periodSeconds", j.periodSeconds());
        m.put("passes", j.passes());
        m.put("lastPassAt", j.lastPassAt());
        m.put("failures", j.failures());
        m.put("failuresInARow", j.failuresInARow());
        m.put("lastFailureAt", j.lastFailureAt());
        m.put("lastError", j.lastError());
        m.put("runningSince", j.runningSince());
        return m;
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
