package org.carevisor.manager.api;

import io.javalin.http.Context;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.carevisor.manager.cluster.ClusterRecord;
import org.carevisor.manager.cluster.ClusterRequests;
import org.carevisor.manager.cluster.ClusterService;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.host.HostService;
import org.carevisor.manager.migration.Balancer;
import org.carevisor.manager.migration.MaintenanceService;
import org.carevisor.manager.migration.MigrationService;
import org.carevisor.manager.network.NetworkRecord;
import org.carevisor.manager.network.NetworkService;
import org.carevisor.manager.placement.PlacementService;
import org.carevisor.manager.placement.RuleService;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;

/**
 * Endpoints of the cluster features: clusters, host settings and maintenance, networks, placement rules,
 * live migration, balancing recommendations, task cancellation.
 */
public final class ClusterRoutes {
    private final ClusterService clusters;
    private final HostService hosts;
    private final HostRepository hostRepo;
    private final NetworkService networks;
    private final RuleService rules;
    private final PlacementService placement;
    private final MigrationService migrations;
    private final MaintenanceService maintenance;
    private final Balancer balancer;
    private final TaskService tasks;
    private final VmRepository vms;

    public ClusterRoutes(ClusterService clusters, HostService hosts, HostRepository hostRepo, NetworkService networks,
                         RuleService rules, PlacementService placement, MigrationService migrations,
                         MaintenanceService maintenance, Balancer balancer, TaskService tasks, VmRepository vms) {
        this.clusters = clusters;
        this.hosts = hosts;
        this.hostRepo = hostRepo;
        this.networks = networks;
        this.rules = rules;
        this.placement = placement;
        this.migrations = migrations;
        this.maintenance = maintenance;
        this.balancer = balancer;
        this.tasks = tasks;
        this.vms = vms;
    }

    /** Body of entering maintenance. */
    public record MaintenanceRequest(String reason) {
    }

    void register(ApiRoutes.Registrar r, java.util.function.Function<HostRecord, Object> hostView) {
        String v = "/api/v1";
        r.add("GET", v + "/clusters", ctx -> {
            var p = Guard.principal(ctx);
            ctx.json(clusters.list().stream().filter(c -> p.may(org.carevisor.manager.auth.Privilege.SYS_VIEW,
                    org.carevisor.manager.auth.Scope.ofCluster(c.id()))).map(this::clusterView).toList());
        });
        r.add("POST", v + "/clusters", ctx -> ctx.status(201).json(clusterView(clusters.create(
                RequestBody.read(ctx, ClusterRequests.Write.class), ApiServer.actor(ctx)))));
        r.add("GET", v + "/clusters/{id}", ctx -> ctx.json(clusterView(clusters.get(ctx.pathParam("id")))));
        r.add("PATCH", v + "/clusters/{id}", ctx -> ctx.json(clusterView(clusters.update(ctx.pathParam("id"),
                RequestBody.read(ctx, ClusterRequests.Write.class), ApiServer.actor(ctx)))));
        r.add("DELETE", v + "/clusters/{id}", ctx -> {
            clusters.delete(ctx.pathParam("id"), ApiServer.actor(ctx));
            ctx.status(204);
        });
        r.add("GET", v + "/clusters/{id}/recommendations", ctx -> {
            ClusterRecord c = clusters.get(ctx.pathParam("id"));
            boolean now = "true".equals(ctx.queryParam("evaluate"));
            ctx.json((now ? balancer.evaluate(c, Instant.now()) : balancer.recommendation(c.id()))
                    .map(List::of).orElse(List.of()));
        });

        r.add("PATCH", v + "/hosts/{id}", ctx -> ctx.json(hostView.apply(hosts.update(ctx.pathParam("id"),
                RequestBody.read(ctx, HostService.HostPatch.class), ApiServer.actor(ctx)))));
        r.add("POST", v + "/hosts/{id}/maintenance", ctx -> {
            MaintenanceRequest req = RequestBody.readOr(ctx, MaintenanceRequest.class, new MaintenanceRequest(null));
            LifecycleRoutes.accepted(ctx, maintenance.enter(hosts.get(ctx.pathParam("id")), req.reason(),
                    ApiServer.actor(ctx)));
        });
        r.add("DELETE", v + "/hosts/{id}/maintenance", ctx -> {
            maintenance.exit(hosts.get(ctx.pathParam("id")), ApiServer.actor(ctx));
            ctx.json(hostView.apply(hosts.get(ctx.pathParam("id"))));
        });
        r.add("GET", v + "/hosts/{id}/evacuation", ctx -> ctx.json(maintenance.lastOutcome(
                hosts.get(ctx.pathParam("id")).id())));

        r.add("GET", v + "/networks", ctx -> ctx.json(networks.list().stream().map(this::networkView).toList()));
        r.add("POST", v + "/networks", ctx -> ctx.status(201).json(networkView(networks.create(
                RequestBody.read(ctx, NetworkService.Create.class), ApiServer.actor(ctx)))));
        r.add("GET", v + "/networks/{id}", ctx -> ctx.json(networkView(networks.get(ctx.pathParam("id")))));
        r.add("DELETE", v + "/networks/{id}", ctx -> {
            networks.delete(ctx.pathParam("id"), ApiServer.actor(ctx));
            ctx.status(204);
        });

        r.add("GET", v + "/placement-rules", ctx -> {
            var p = Guard.principal(ctx);
            Map<String, String> where = placement.occupancy();
            ctx.json(rules.rules().stream().filter(x -> visible(p, x)).map(x -> rules.view(x, where, List.of()))
                    .toList());
        });
        r.add("POST", v + "/placement-rules", ctx -> ctx.status(201).json(rules.create(
                RequestBody.read(ctx, RuleService.Create.class), ApiServer.actor(ctx))));
        r.add("GET", v + "/placement-rules/{id}", ctx -> ctx.json(rules.view(rules.get(ctx.pathParam("id")),
                placement.occupancy(), List.of())));
        r.add("DELETE", v + "/placement-rules/{id}", ctx -> {
            rules.delete(ctx.pathParam("id"), ApiServer.actor(ctx));
            ctx.status(204);
        });

        r.add("POST", v + "/vms/{id}/migrate", ctx -> {
            MigrationService.Request req = RequestBody.readOr(ctx, MigrationService.Request.class, new MigrationService.Request(null, null, null, null, null));
            LifecycleRoutes.accepted(ctx, migrations.migrate(ctx.pathParam("id"), req, ApiServer.actor(ctx),
                    "operator"));
        });
        r.add("GET", v + "/vms/{id}/placement", ctx -> ctx.json(placementView(ctx)));
        r.add("GET", v + "/migrations", ctx -> {
            var p = Guard.principal(ctx);
            Paging page = Paging.of(ctx, 50, 1000);
            var scopes = org.carevisor.manager.auth.ScopeFilter.of(p, org.carevisor.manager.auth.Privilege.SYS_VIEW);
            String vmRef = ctx.queryParam("vm");
            String vmId = null;
            if (vmRef != null) {
                VmRecord vm = vms.find(vmRef).or(() -> vms.findByName(vmRef)).orElse(null);
                if (vm == null && scopes.everything()) {
                    throw ApiException.notFound("VM", vmRef);
                }
                vmId = vm == null ? vmRef : vm.id(); // unknown to a scoped caller: an empty list, as for a VM they cannot see
            }
            ctx.json(migrations.list(vmId, scopes, page.limit(), page.offset()));
        });
        r.add("POST", v + "/tasks/{id}/cancel", ctx -> LifecycleRoutes.accepted(ctx,
                tasks.cancel(ctx.pathParam("id"), ApiServer.actor(ctx))));
    }

    /** A placement rule is shown to a caller who may see every VM it names (it names them and their hosts). */
    private boolean visible(org.carevisor.manager.auth.Principal p, org.carevisor.manager.placement.Rule r) {
        var view = org.carevisor.manager.auth.Privilege.SYS_VIEW;
        return p.mayEverywhere(view) || r.vmIds().stream().allMatch(id -> vms.find(id).map(x -> p.may(view,
                org.carevisor.manager.auth.Scope.ofVm(x.clusterId(), x.hostId(), x.id()))).orElse(false));
    }

    /** Where the VM could run now, with the scheduler's verdict on every host (for operators). */
    private Object placementView(Context ctx) {
        VmRecord vm = vms.find(ctx.pathParam("id")).or(() -> vms.findByName(ctx.pathParam("id")))
                .orElseThrow(() -> ApiException.notFound("VM", ctx.pathParam("id")));
        var decision = placement.decide(PlacementService.Subject.of(vm), PlacementService.Purpose.MIGRATE, null);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("vm", vm.name());
        out.put("currentHost", vm.hostId());
        out.put("bestHost", decision.hostId().orElse(null));
        out.put("hosts", decision.verdicts());
        return out;
    }

    private Map<String, Object> clusterView(ClusterRecord c) {
        Map<String, Object> m = ClusterService.view(c);
        List<HostRecord> members = hostRepo.inCluster(c.id());
        m.put("hosts", members.stream().map(HostRecord::name).toList());
        m.put("vmCount", vms.list().stream().filter(x -> c.id().equals(x.clusterId())).count());
        m.put("createdAt", c.createdAt());
        m.put("updatedAt", c.updatedAt());
        return m;
    }

    private Map<String, Object> networkView(NetworkRecord n) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", n.id());
        m.put("name", n.name());
        m.put("kind", n.kind());
        m.put("bridge", n.bridge());
        m.put("cidr", n.cidr());
        m.put("gateway", n.gateway());
        m.put("poolFrom", n.poolFrom());
        m.put("poolTo", n.poolTo());
        m.put("description", n.description());
        m.putAll(networks.usage(n));
        m.put("createdAt", n.createdAt());
        return m;
    }
}
