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
    private final org.carevisor.manager.audit.AuditLog audit;

    public HostAdminRoutes(JoinTokens tokens, ManagerPki pki, HostService hosts, ManagerConfig config,
                          AgentListener listener, org.carevisor.manager.cluster.ClusterService clusters,
                          org.carevisor.manager.audit.AuditLog audit) {
        this.audit = audit;
        this.tokens = tokens;
        this.pki = pki;
        this.hosts = hosts;
        this.config = config;
        this.listener = listener;
        this.clusters = clusters;
    }

    /**
     * Request body of a new join token: for a new host (optionally joining {@code cluster}), or with
     * {@code host} (id or name) for enrolling that existing host again (lost certificate, reinstall).
     */
    public record TokenRequest(Integer ttlMinutes, String cluster, String host) {
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
            TokenRequest req = ctx.bodyAsBytes().length == 0 ? new TokenRequest(null, null, null)
                    : Json.read(ctx.bodyAsBytes(), TokenRequest.class);
            String clusterId = req.cluster() == null ? null : clusters.get(req.cluster()).id();
            org.carevisor.manager.host.HostRecord host = req.host() == null ? null : hosts.get(req.host());
            org.carevisor.manager.audit.Actor actor = ApiServer.actor(ctx);
            int ttl = req.ttlMinutes() == null ? 60 : req.ttlMinutes();
            JoinTokens.Issued t = tokens.create(Duration.ofMinutes(ttl), actor.name(), clusterId,
                    host == null ? null : host.id());
            Map<String, Object> recorded = new LinkedHashMap<>();
            recorded.put("tokenId", t.id());
            recorded.put("expiresAt", t.expiresAt().toString());
            recorded.put(host == null ? "cluster" : "host", host == null ? (clusterId == null ? "default" : clusterId)
                    : host.name());
            audit.record(new org.carevisor.manager.audit.AuditLog.Entry(actor, "host.join-token", "host",
                    host == null ? null : host.id(), host == null ? null : host.name(), null, recorded,
                    host == null ? "token for a new host" : "token to enroll this host again; its certificate is"
                            + " replaced (and revoked) when the token is used",
                    org.carevisor.manager.audit.AuditLog.Outcome.SUCCESS, null));
            String managerUrl = "https://" + config.agentListen() + ":" + listener.port();
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("id", t.id());
            body.put("token", t.token());
            body.put("expiresAt", t.expiresAt());
            body.put("caFingerprint", pki.caFingerprint());
            body.put("managerUrl", managerUrl);
            if (host != null) {
                body.put("host", host.id());
                body.put("hostName", host.name());
            }
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
