package org.carevisor.manager.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.javalin.http.Context;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.auth.AccessPolicy;
import org.carevisor.manager.auth.AuthService;
import org.carevisor.manager.auth.Principal;
import org.carevisor.manager.auth.Privilege;
import org.carevisor.manager.auth.Scope;
import org.carevisor.manager.auth.SecuritySettings;
import org.carevisor.manager.cluster.ClusterRecord;
import org.carevisor.manager.cluster.ClusterService;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.host.HostService;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.template.TemplateRecord;
import org.carevisor.manager.template.TemplateService;
import org.carevisor.manager.template.TemplateState;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmService;

/**
 * Runs before every API endpoint: authenticates the caller, checks the privilege the endpoint needs on the
 * object it works on ({@link AccessPolicy}), requires a reason for changes of objects whose class needs one,
 * and checks the electronic signature of critical actions. Refusals are problem documents; security events
 * (denied access, failed signatures) are audited. The resulting {@link Actor} - user, address, reason,
 * signature - is what the services record in the audit trail.
 */
public final class Guard {
    static final String PRINCIPAL = "carevisor.principal";
    static final String ACTOR = "carevisor.actor";
    /** Header carrying the reason for a change, for endpoints whose body has no {@code reason}. */
    public static final String REASON_HEADER = "Carevisor-Reason";

    private final AuthService auth;
    private final AuditLog audit;
    private final VmService vms;
    private final HostService hosts;
    private final ClusterService clusters;
    private final TaskService tasks;
    private final TemplateService templates;

    public Guard(AuthService auth, AuditLog audit, VmService vms, HostService hosts, ClusterService clusters,
                 TaskService tasks, TemplateService templates) {
        this.auth = auth;
        this.audit = audit;
        this.vms = vms;
        this.hosts = hosts;
        this.clusters = clusters;
        this.tasks = tasks;
        this.templates = templates;
    }

    /** The object a request works on, as far as authorization needs it. */
    private record Target(List<Scope> path, String label, String type, String id, List<String> classes, boolean gxp) {
    }

    void check(Context ctx, AccessPolicy.Rule rule) {
        if (rule.target() == AccessPolicy.Target.PUBLIC) {
            return;
        }
        Principal p = auth.authenticate(bearer(ctx), ctx.ip());
        ctx.attribute(PRINCIPAL, p);
        Actor actor = new Actor(p.username(), ctx.ip(), p.userId(), null, null);
        ctx.attribute(ACTOR, actor);
        if (rule.target() == AccessPolicy.Target.SELF) {
            return;
        }
        if (p.mustChangePassword()) {
            throw new ApiException(403, "password-change-required", "Password change required", "user '"
                    + p.username() + "' must change the password first (POST /api/v1/auth/password, carevisor passwd)",
                    null);
        }
        Target t = target(ctx, rule);
        boolean allowed = rule.target() == AccessPolicy.Target.ANY ? p.mayAnywhere(rule.privilege())
                : p.may(rule.privilege(), t.path());
        if (!allowed) {
            String roles = p.grants().isEmpty() ? "no roles" : p.grants().stream()
                    .map(g -> g.role() + " on " + g.scope()).collect(Collectors.joining(", "));
            String detail = "user '" + p.username() + "' lacks the privilege " + rule.privilege().id() + " on "
                    + t.label() + " (has: " + roles + ")";
            audit.record(new AuditLog.Entry(actor, "access.denied", t.type(), t.id(), t.label(), null,
                    Map.of("endpoint", ctx.method() + " " + ctx.endpointHandlerPath(), "privilege",
                            rule.privilege().id()), detail, Outcome.REFUSED, null));
            throw new ApiException(403, "forbidden", "Forbidden", detail, null);
        }
        if (!rule.changes(ctx.method().name())) {
            return;
        }
        SecuritySettings s = auth.settings();
        JsonNode body = body(ctx);
        String reason = text(body, "reason");
        if (reason == null) {
            reason = ctx.header(REASON_HEADER);
        }
        if (reason != null && (reason.isBlank() || reason.length() > 2000)) {
            throw ApiException.invalid("reason", "must be 1-2000 characters");
        }
        if (reason == null) {
            for (String c : t.classes()) {
                if (s.reasonRequiredFor().contains(c)) {
                    throw new ApiException(400, "reason-required", "Reason required", "changes of " + t.label()
                            + " need a reason (object class '" + c + "'): send \"reason\" in the body or the header "
                            + REASON_HEADER + " (CLI: --reason)",
                            List.of(new ApiException.FieldError("reason", "is required for " + c)));
                }
            }
        }
        actor = actor.withReason(reason);
        String action = rule.signatureAction();
        if (action != null && (s.signatureRequiredFor().contains(action)
                || t.gxp() && s.signatureRequiredFor().contains(action + ".gxp"))) {
            JsonNode sig = body == null ? null : body.get("signature");
            AuthService.SignatureRequest req = sig == null || sig.isNull() ? null
                    : new AuthService.SignatureRequest(text(sig, "username"), text(sig, "password"), text(sig, "meaning"));
            actor = actor.withSignature(auth.sign(p, req, action + " of " + t.label()));
        }
        ctx.attribute(ACTOR, actor);
    }

    private Target target(Context ctx, AccessPolicy.Rule rule) {
        return switch (rule.target()) {
            case GLOBAL, ANY, PUBLIC, SELF -> {
                String path = ctx.endpointHandlerPath();
                yield path.startsWith("/api/v1/users") || path.startsWith("/api/v1/roles")
                        || path.startsWith("/api/v1/settings")
                        ? new Target(List.of(Scope.EVERYTHING), "users and roles", "user", null, List.of("user"), false)
                        : everything();
            }
            case VM -> vm(ctx.pathParam("id"));
            case HOST -> host(ctx.pathParam("id"));
            case CLUSTER -> cluster(ctx.pathParam("id"));
            case CLUSTER_IN_BODY -> {
                String ref = text(body(ctx), "cluster");
                yield ref == null ? cluster(ClusterRecord.DEFAULT_ID) : cluster(ref);
            }
            case TASK -> task(ctx.pathParam("id"));
            case TEMPLATE -> template(ctx.pathParam("id"));
        };
    }

    private static Target everything() {
        return new Target(List.of(Scope.EVERYTHING), "everything", null, null, List.of(), false);
    }

    /** Unknown objects are checked against the global scope only: without it the caller learns nothing. */
    private Target vm(String ref) {
        VmRecord vm;
        try {
            vm = vms.get(ref);
        } catch (ApiException e) {
            return new Target(List.of(Scope.EVERYTHING), "VM '" + ref + "'", "vm", ref, List.of("vm"), false);
        }
        List<String> classes = vm.gxp() ? List.of("vm", "vm.gxp") : List.of("vm");
        return new Target(Scope.ofVm(vm.clusterId(), vm.hostId(), vm.id()), "VM '" + vm.name() + "'", "vm", vm.id(),
                classes, vm.gxp());
    }

    private Target host(String ref) {
        HostRecord h;
        try {
            h = hosts.get(ref);
        } catch (ApiException e) {
            return new Target(List.of(Scope.EVERYTHING), "host '" + ref + "'", "host", ref, List.of("host"), false);
        }
        return new Target(Scope.ofHost(h.clusterId(), h.id()), "host '" + h.name() + "'", "host", h.id(),
                List.of("host"), false);
    }

    private Target cluster(String ref) {
        ClusterRecord c;
        try {
            c = clusters.get(ref);
        } catch (ApiException e) {
            return new Target(List.of(Scope.EVERYTHING), "cluster '" + ref + "'", "cluster", ref, List.of("cluster"),
                    false);
        }
        return new Target(Scope.ofCluster(c.id()), "cluster '" + c.name() + "'", "cluster", c.id(),
                List.of("cluster"), false);
    }

    private Target task(String id) {
        TaskRecord t = tasks.find(id).orElse(null);
        if (t == null || t.target() == null) {
            return new Target(List.of(Scope.EVERYTHING), "task " + id, "task", id, List.of(), false);
        }
        Target inner = switch (t.target().type()) {
            case "vm" -> vm(t.target().id());
            case "host" -> host(t.target().id());
            default -> everything();
        };
        return new Target(inner.path(), "task " + id + " of " + inner.label(), "task", id, List.of(), false);
    }

    private Target template(String ref) {
        TemplateRecord t;
        try {
            t = templates.get(ref);
        } catch (ApiException e) {
            return new Target(List.of(Scope.EVERYTHING), "template '" + ref + "'", "template", ref, List.of("template"),
                    false);
        }
        List<String> classes = t.state() == TemplateState.QUALIFIED ? List.of("template", "template.qualified")
                : List.of("template");
        return new Target(List.of(Scope.EVERYTHING), "template '" + t.name() + "' v" + t.version(), "template", t.id(),
                classes, false);
    }

    /** Resolves "cluster:NAME", "host:NAME", "vm:NAME" (names or ids) for role assignments. */
    public Scope resolveScope(String s) {
        int colon = s.indexOf(':');
        if (colon < 0) {
            throw ApiException.invalid("scope", "must be 'global' or cluster:NAME, host:NAME or vm:NAME");
        }
        String type = s.substring(0, colon);
        String ref = s.substring(colon + 1);
        return switch (type) {
            case Scope.CLUSTER -> new Scope(Scope.CLUSTER, clusters.get(ref).id());
            case Scope.HOST -> new Scope(Scope.HOST, hosts.get(ref).id());
            case Scope.VM -> new Scope(Scope.VM, vms.get(ref).id());
            default -> throw ApiException.invalid("scope", "unknown scope type '" + type
                    + "'; use global, cluster:NAME, host:NAME or vm:NAME");
        };
    }

    static String bearer(Context ctx) {
        String h = ctx.header("Authorization");
        if (h != null && h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return h.substring(7).trim();
        }
        return null;
    }

    private static JsonNode body(Context ctx) {
        byte[] b = ctx.bodyAsBytes();
        if (b.length == 0) {
            return null;
        }
        try {
            JsonNode n = Json.mapper().readTree(b);
            return n != null && n.isObject() ? n : null;
        } catch (java.io.IOException e) {
            return null; // the endpoint reports malformed JSON itself
        }
    }

    private static String text(JsonNode n, String field) {
        if (n == null) {
            return null;
        }
        JsonNode v = n.get(field);
        return v == null || v.isNull() || !v.isTextual() ? null : v.asText();
    }

    /** The authenticated caller of a request (after {@link #check}). */
    public static Principal principal(Context ctx) {
        Principal p = ctx.attribute(PRINCIPAL);
        if (p == null) {
            throw new IllegalStateException("no principal: endpoint " + ctx.path() + " is public");
        }
        return p;
    }

    /** The actor of a request: the user, their address, reason and signature. */
    public static Actor actor(Context ctx) {
        Actor a = ctx.attribute(ACTOR);
        return a != null ? a : Actor.user("anonymous", ctx.ip());
    }

    /** Ids of the VMs the caller may see with {@code p}, or null when they may see every VM. */
    public static java.util.function.Predicate<List<Scope>> visible(Context ctx, Privilege privilege) {
        Principal p = principal(ctx);
        return path -> p.may(privilege, path);
    }

    static List<String> names(List<Scope> path) {
        List<String> out = new ArrayList<>();
        path.forEach(s -> out.add(s.toString()));
        return out;
    }
}
