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
import org.carevisor.manager.cluster.ClusterService;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.host.HostService;
import org.carevisor.manager.placement.PlacementService;
import org.carevisor.manager.placement.RuleService;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.template.TemplateService;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmService;

/**
 * Runs before every API endpoint: authenticates the caller, checks the privilege the endpoint needs on the
 * object it works on ({@link AccessPolicy}) and on every further object its body names ({@link RequestTargets}),
 * requires a reason for changes of objects whose class needs one, and checks the electronic signature of critical
 * actions and of every change that lowers an object's protection class. Refusals are problem documents; security
 * events (denied access, missing or failed signatures) are audited. The resulting {@link Actor} - user, address,
 * reason, signature - is what the services record in the audit trail. Thread-safe.
 */
public final class Guard {
    static final String PRINCIPAL = "carevisor.principal";
    static final String ACTOR = "carevisor.actor";
    /** Header carrying the reason for a change, for endpoints whose body has no {@code reason}. */
    public static final String REASON_HEADER = "Carevisor-Reason";
    /**
     * The longest reason for a change; the audit record's reason column (2000) also holds what the system adds
     * (e.g. "forced while running" or an error message), so a person's reason always fits whole.
     */
    public static final int MAX_REASON = 1000;

    private final AuthService auth;
    private final AuditLog audit;
    private final VmService vms;
    private final HostService hosts;
    private final ClusterService clusters;
    private final RequestTargets targets;

    public Guard(AuthService auth, AuditLog audit, VmService vms, HostService hosts, ClusterService clusters,
                 TaskService tasks, TemplateService templates, PlacementService placement, RuleService rules) {
        this.auth = auth;
        this.audit = audit;
        this.vms = vms;
        this.hosts = hosts;
        this.clusters = clusters;
        this.targets = new RequestTargets(new Targets(vms, hosts, clusters, tasks, templates, placement, rules));
    }

    AuditLog audit() {
        return audit;
    }

    void check(Context ctx, AccessPolicy.Rule rule) {
        if (rule.target() == AccessPolicy.Target.PUBLIC) {
            // a public endpoint may show more to a caller who is logged in (health): take a valid token if given
            if (bearer(ctx) != null) {
                try {
                    ctx.attribute(PRINCIPAL, auth.authenticate(bearer(ctx), ctx.ip()));
                } catch (ApiException e) {
                    // answered as for an anonymous caller
                }
            }
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
        Targets.Target t = targets.main(ctx, rule);
        boolean anywhere = rule.target() == AccessPolicy.Target.ANY
                || rule.target() == AccessPolicy.Target.PLACEMENT_RULE && t.exists();
        // everyone may follow the tasks they started themselves, also once their object is gone (a deleted VM)
        boolean ownTask = rule.target() == AccessPolicy.Target.TASK && rule.privilege() == Privilege.SYS_VIEW
                && targets.targets().startedBy(ctx.pathParam("id"), p.username());
        if (!ownTask) {
            require(ctx, p, actor, rule.privilege(), t, anywhere);
        }
        RequestTargets.Extra extra = targets.extra(ctx, rule, t);
        for (RequestTargets.Check c : extra.checks()) {
            require(ctx, p, actor, c.privilege(), c.target(), false);
        }
        if (!rule.changes(ctx.method().name())) {
            return;
        }
        SecuritySettings s = auth.settings();
        JsonNode body = RequestBody.tree(ctx);
        String reason = RequestBody.text(body, "reason");
        if (reason == null) {
            reason = ctx.header(REASON_HEADER);
        }
        if (reason != null && (reason.isBlank() || reason.length() > MAX_REASON)) {
            throw ApiException.invalid("reason", "must be 1-" + MAX_REASON + " characters (has " + reason.length()
                    + ")");
        }
        if (reason == null) {
            List<Targets.Target> changed = new ArrayList<>();
            changed.add(t);
            extra.checks().stream().filter(RequestTargets.Check::changed).forEach(c -> changed.add(c.target()));
            for (Targets.Target x : changed) {
                for (String c : x.classes()) {
                    if (s.reasonRequiredFor().contains(c)) {
                        throw new ApiException(400, "reason-required", "Reason required", "changes of " + x.label()
                                + " need a reason (object class '" + c + "'): send \"reason\" in the body or the header "
                                + REASON_HEADER + " (CLI: --reason)",
                                List.of(new ApiException.FieldError("reason", "is required for " + c)));
                    }
                }
            }
        }
        actor = actor.withReason(reason);
        String action = extra.mandatorySignature() != null ? extra.mandatorySignature() : rule.signatureAction();
        if (action != null && (extra.mandatorySignature() != null || s.signatureRequiredFor().contains(action)
                || t.gxp() && s.signatureRequiredFor().contains(action + ".gxp"))) {
            JsonNode sig = RequestBody.object(body, "signature");
            AuthService.SignatureRequest req = sig == null ? null : new AuthService.SignatureRequest(
                    RequestBody.text(sig, "username", "signature.username"),
                    RequestBody.text(sig, "password", "signature.password"),
                    RequestBody.text(sig, "meaning", "signature.meaning"));
            if (req == null) {
                audit.record(new AuditLog.Entry(actor, "signature.missing", t.type(), t.id(), t.label(), null,
                        Map.of("endpoint", ctx.method() + " " + ctx.endpointHandlerPath(), "action", action),
                        action + " of " + t.label() + " was asked for without an electronic signature",
                        Outcome.REFUSED, null));
            }
            actor = actor.withSignature(auth.sign(p, req, action + " of " + t.label()));
        }
        ctx.attribute(ACTOR, actor);
    }

    /** Refuses (403, audited as {@code access.denied}) unless the caller holds {@code privilege} on {@code t}. */
    private void require(Context ctx, Principal p, Actor actor, Privilege privilege, Targets.Target t,
                         boolean anywhere) {
        boolean allowed = anywhere ? p.mayAnywhere(privilege) : p.may(privilege, t.path());
        if (allowed) {
            return;
        }
        String roles = p.grants().isEmpty() ? "no roles" : p.grants().stream()
                .map(g -> g.role() + " on " + g.scope()).collect(Collectors.joining(", "));
        String detail = "user '" + p.username() + "' lacks the privilege " + privilege.id() + " on "
                + t.label() + " (has: " + roles + ")";
        audit.record(new AuditLog.Entry(actor, "access.denied", t.type(), t.id(), t.label(), null,
                Map.of("endpoint", ctx.method() + " " + ctx.endpointHandlerPath(), "privilege",
                        privilege.id()), detail, Outcome.REFUSED, null));
        throw new ApiException(403, "forbidden", "Forbidden", detail, null);
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

    /** Every scope that contains {@code s} (separation of duties): a VM's global, cluster, host and itself. */
    public List<Scope> scopePath(Scope s) {
        try {
            return switch (s.type()) {
                case Scope.CLUSTER -> Scope.ofCluster(s.id());
                case Scope.HOST -> {
                    HostRecord h = hosts.get(s.id());
                    yield Scope.ofHost(h.clusterId(), h.id());
                }
                case Scope.VM -> {
                    VmRecord v = vms.get(s.id());
                    yield Scope.ofVm(v.clusterId(), v.hostId(), v.id());
                }
                default -> List.of(Scope.EVERYTHING);
            };
        } catch (ApiException e) {
            return List.of(Scope.EVERYTHING, s); // the object is gone: only global or the scope itself holds it
        }
    }

    static String bearer(Context ctx) {
        String h = ctx.header("Authorization");
        if (h != null && h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return h.substring(7).trim();
        }
        return null;
    }

    /** The authenticated caller of a request (after {@link #check}). */
    public static Principal principal(Context ctx) {
        Principal p = ctx.attribute(PRINCIPAL);
        if (p == null) {
            throw new IllegalStateException("no principal: endpoint " + ctx.path() + " is public");
        }
        return p;
    }

    /** The authenticated caller of a request to a public endpoint, or null when it sent no valid token. */
    public static Principal optionalPrincipal(Context ctx) {
        return ctx.attribute(PRINCIPAL);
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
