package org.carevisor.manager.api;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.manager.host.HostService;
import org.carevisor.manager.security.AgentListener;
import org.carevisor.manager.security.JoinTokens;
import org.carevisor.manager.security.ManagerPki;

/** Endpoints for host administration: enrollment (join tokens), removal, stopping all VMs of a host. */
public final class HostAdminRoutes {
    private final JoinTokens tokens;
    private final ManagerPki pki;
    private final HostService hosts;
    private final ManagerConfig config;
    private final AgentListener listener;
    private final org.carevisor.manager.cluster.ClusterService clusters;

    public HostAdminRoutes(JoinTokens tokens, ManagerPki pki, HostService hosts, ManagerConfig config,
                          AgentListener listener, org.carevisor.manager.cluster.ClusterService clusters) {
        this.tokens = tokens;
        this.pki = pki;
        this.hosts = hosts;
        this.config = config;
        this.listener = listener;
        this.clusters = clusters;
    }

    /** Request body of a new join token. */
    public record TokenRequest(Integer ttlMinutes, String cluster) {
    }

    /** Request body of stopping all VMs of a host. */
    public record StopAll(Integer timeoutSeconds) {
    }

    /** Request body of a host removal. */
    public record Removal(String reason) {
    }

    HostService hosts() {
        return hosts;
    }

    void register(ApiRoutes.Registrar r) {
        r.add("POST", "/api/v1/hosts/join-tokens", ctx -> {
            TokenRequest req = ctx.bodyAsBytes().length == 0 ? new TokenRequest(null, null)
                    : Json.read(ctx.bodyAsBytes(), TokenRequest.class);
            String clusterId = req.cluster() == null ? null : clusters.get(req.cluster()).id();
            JoinTokens.Issued t = tokens.create(Duration.ofMinutes(req.ttlMinutes() == null ? 60 : req.ttlMinutes()),
                    ApiServer.actor(ctx).name(), clusterId);
            String managerUrl = "https://" + config.agentListen() + ":" + listener.port();
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("id", t.id());
            body.put("token", t.token());
            body.put("expiresAt", t.expiresAt());
            body.put("caFingerprint", pki.caFingerprint());
            body.put("managerUrl", managerUrl);
            body.put("agentArguments", "--manager-url " + managerUrl + " --join-token " + t.token()
                    + " --ca-fingerprint " + pki.caFingerprint());
            ctx.status(201).json(body);
        });
        r.add("GET", "/api/v1/hosts/join-tokens", ctx -> ctx.json(tokens.list()));
        r.add("POST", "/api/v1/hosts/{id}/stop-all-vms", ctx -> {
            StopAll req = ctx.bodyAsBytes().length == 0 ? new StopAll(null) : Json.read(ctx.bodyAsBytes(), StopAll.class);
            ctx.json(hosts.stopAllVms(ctx.pathParam("id"), req.timeoutSeconds() == null ? 60 : req.timeoutSeconds(),
                    ApiServer.actor(ctx)));
        });
        r.add("DELETE", "/api/v1/hosts/{id}", ctx -> {
            Removal req = ctx.bodyAsBytes().length == 0 ? new Removal(null) : Json.read(ctx.bodyAsBytes(), Removal.class);
            hosts.remove(ctx.pathParam("id"), req.reason(), ApiServer.actor(ctx));
            ctx.status(204);
        });
    }
}
