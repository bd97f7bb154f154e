package org.carevisor.manager.api;

import java.util.LinkedHashMap;
import java.util.Map;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.site.SiteShutdownService;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.ups.UpsMonitor;

/** Endpoints of the site as a whole: orderly shutdown (by an operator), resume, and the status with the UPSes. */
public final class SiteRoutes {
    private final SiteShutdownService site;
    private final UpsMonitor ups;

    public SiteRoutes(SiteShutdownService site, UpsMonitor ups) {
        this.site = site;
        this.ups = ups;
    }

    /** Body of {@code POST /site/shutdown}; reason and signature are read by the guard. */
    public record ShutdownBody(Integer vmTimeoutSeconds, Boolean powerOffHosts, String reason,
                               com.fasterxml.jackson.databind.JsonNode signature) {
    }

    void register(ApiRoutes.Registrar r) {
        String v = "/api/v1";
        r.add("GET", v + "/site", ctx -> {
            Map<String, Object> out = new LinkedHashMap<>(site.status());
            out.put("ups", ups.status());
            out.put("upsSettings", ups.settings());
            ctx.json(out);
        });
        r.add("POST", v + "/site/shutdown", ctx -> {
            ShutdownBody body = RequestBody.readOr(ctx, ShutdownBody.class, new ShutdownBody(null, null, null, null));
            SiteShutdownService.Request req = new SiteShutdownService.Request(body.vmTimeoutSeconds(),
                    body.powerOffHosts());
            Actor actor = ApiServer.actor(ctx);
            if (actor.reason() == null || actor.reason().isBlank()) {
                throw ApiException.invalid("reason", "a site shutdown needs a reason (carevisor --reason TEXT site"
                        + " shutdown, or the Carevisor-Reason header); it is kept in the audit trail");
            }
            TaskRecord task = site.start(req, "operator", actor);
            ctx.status(202).header("Location", "/api/v1/tasks/" + task.id()).json(task);
        });
        r.add("POST", v + "/site/resume", ctx -> ctx.json(site.resume(ApiServer.actor(ctx))));
    }
}
