package org.carevisor.manager.api;

import io.javalin.http.Context;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.auth.Privilege;
import org.carevisor.manager.auth.Scope;
import org.carevisor.manager.cluster.ClusterService;
import org.carevisor.manager.ha.HaService;
import org.carevisor.manager.ha.HaSettings;
import org.carevisor.manager.host.HostService;
import org.carevisor.manager.vm.VmService;

/** Endpoints of high availability: VM, cluster and host (fencing) settings, and the HA status view. */
public final class HaRoutes {
    private final HaService ha;
    private final HaSettings settings;
    private final VmService vms;
    private final ClusterService clusters;
    private final HostService hosts;
    private final AuditLog audit;

    public HaRoutes(HaService ha, HaSettings settings, VmService vms, ClusterService clusters, HostService hosts,
                    AuditLog audit) {
        this.ha = ha;
        this.settings = settings;
        this.vms = vms;
        this.clusters = clusters;
        this.hosts = hosts;
        this.audit = audit;
    }

    void register(ApiRoutes.Registrar r) {
        String v = "/api/v1";
        r.add("GET", v + "/ha", ctx -> ctx.json(visible(ctx, ha.status())));
        r.add("GET", v + "/vms/{id}/ha", ctx -> ctx.json(settings.vmView(vms.get(ctx.pathParam("id")))));
        r.add("PATCH", v + "/vms/{id}/ha", ctx -> ctx.json(settings.putVm(vms.get(ctx.pathParam("id")),
                RequestBody.read(ctx, HaSettings.VmRequest.class), ApiServer.actor(ctx), audit)));
        r.add("GET", v + "/clusters/{id}/ha", ctx -> ctx.json(settings.clusterView(clusters.get(ctx.pathParam("id")))));
        r.add("PATCH", v + "/clusters/{id}/ha", ctx -> ctx.json(settings.putCluster(clusters.get(ctx.pathParam("id")),
                RequestBody.read(ctx, HaSettings.ClusterRequest.class), ApiServer.actor(ctx), audit)));
        r.add("GET", v + "/hosts/{id}/fence", ctx -> ctx.json(settings.fenceView(hosts.get(ctx.pathParam("id")))));
        r.add("PATCH", v + "/hosts/{id}/fence", ctx -> ctx.json(settings.putFence(hosts.get(ctx.pathParam("id")),
                RequestBody.read(ctx, HaSettings.FenceRequest.class), ApiServer.actor(ctx), audit)));
    }

    /**
     * The HA view cut down to what the caller may see with Sys.View: the hosts and VMs of their scopes, and the
     * decisions about those (a decision about a VM needs the VM; one about a host alone needs the host).
     */
    @SuppressWarnings("unchecked")
    private Map<String, Object> visible(Context ctx, Map<String, Object> all) {
        var p = Guard.principal(ctx);
        if (p.mayEverywhere(Privilege.SYS_VIEW)) {
            return all;
        }
        Set<String> hostIds = new HashSet<>();
        hosts.list().stream().filter(h -> p.may(Privilege.SYS_VIEW, Scope.ofHost(h.clusterId(), h.id())))
                .forEach(h -> hostIds.add(h.id()));
        Set<String> vmIds = new HashSet<>();
        vms.list().stream().filter(x -> p.may(Privilege.SYS_VIEW, Scope.ofVm(x.clusterId(), x.hostId(), x.id())))
                .forEach(x -> vmIds.add(x.id()));
        Map<String, Object> out = new LinkedHashMap<>(all);
        out.put("hosts", ((List<Map<String, Object>>) all.get("hosts")).stream()
                .filter(h -> hostIds.contains((String) h.get("id"))).toList());
        out.put("vms", ((List<Map<String, Object>>) all.get("vms")).stream()
                .filter(x -> vmIds.contains((String) x.get("id"))).toList());
        out.put("recent", ((List<Map<String, Object>>) all.get("recent")).stream()
                .filter(d -> d.get("vmId") != null ? vmIds.contains((String) d.get("vmId"))
                        : hostIds.contains((String) d.get("hostId"))).toList());
        return out;
    }
}
