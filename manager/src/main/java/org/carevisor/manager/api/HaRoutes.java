package org.carevisor.manager.api;

import org.carevisor.manager.audit.AuditLog;
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
        r.add("GET", v + "/ha", ctx -> ctx.json(ha.status()));
        r.add("GET", v + "/vms/{id}/ha", ctx -> ctx.json(settings.vmView(vms.get(ctx.pathParam("id")))));
        r.add("PATCH", v + "/vms/{id}/ha", ctx -> ctx.json(settings.putVm(vms.get(ctx.pathParam("id")),
                Json.read(ctx.bodyAsBytes(), HaSettings.VmRequest.class), ApiServer.actor(ctx), audit)));
        r.add("GET", v + "/clusters/{id}/ha", ctx -> ctx.json(settings.clusterView(clusters.get(ctx.pathParam("id")))));
        r.add("PATCH", v + "/clusters/{id}/ha", ctx -> ctx.json(settings.putCluster(clusters.get(ctx.pathParam("id")),
                Json.read(ctx.bodyAsBytes(), HaSettings.ClusterRequest.class), ApiServer.actor(ctx), audit)));
        r.add("GET", v + "/hosts/{id}/fence", ctx -> ctx.json(settings.fenceView(hosts.get(ctx.pathParam("id")))));
        r.add("PATCH", v + "/hosts/{id}/fence", ctx -> ctx.json(settings.putFence(hosts.get(ctx.pathParam("id")),
                Json.read(ctx.bodyAsBytes(), HaSettings.FenceRequest.class), ApiServer.actor(ctx), audit)));
    }
}
