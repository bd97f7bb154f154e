package org.carevisor.manager.auth;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;

/**
 * Separation of duties in user administration: nobody grants (or takes away) a role on a scope unless they hold
 * every privilege of that role on that scope themselves, and nobody resets the password of, disables, changes
 * or unlocks an account that holds privileges they lack. So a user administrator can neither make itself or
 * anyone else an administrator nor take over an administrator's account; only someone who holds a privilege can
 * hand it on. Processes of the manager (first start, emergency access) act without a user and are not limited.
 * Refusals are 403 {@code exceeds-own-privileges}, audited as {@code access.denied}. Thread-safe.
 */
public final class SeparationOfDuties {
    private final UserRepository repo;
    private final AuditLog audit;
    private final Function<Scope, List<Scope>> scopePath;

    /** {@code scopePath}: every scope that contains a scope (a host: global, its cluster, itself). */
    public SeparationOfDuties(UserRepository repo, AuditLog audit, Function<Scope, List<Scope>> scopePath) {
        this.repo = repo;
        this.audit = audit;
        this.scopePath = scopePath;
    }

    /** Refuses unless {@code actor} holds every privilege of {@code role} on {@code scope}. */
    public void checkGrant(Actor actor, RoleRecord role, Scope scope, String what, UserRecord target) {
        if (actor.userId() == null) {
            return;
        }
        Set<Privilege> missing = missing(actor, role.privileges(), scope);
        if (!missing.isEmpty()) {
            throw refuse(actor, target, what + " role " + role.name() + " on " + scope, missing, scope);
        }
    }

    /**
     * Refuses unless {@code actor} holds, on each scope where {@code target} has a role, every privilege that role
     * gives (for password resets, disabling, profile changes and unlocking).
     */
    public void checkActOn(Actor actor, UserRecord target, String what) {
        if (actor.userId() == null || actor.userId().equals(target.id())) {
            return;
        }
        Map<String, RoleRecord> roles = repo.roles().stream().collect(Collectors.toMap(RoleRecord::id, r -> r));
        for (UserRepository.Assignment a : repo.assignments(target.id())) {
            RoleRecord r = roles.get(a.roleId());
            if (r == null) {
                continue;
            }
            Scope scope = new Scope(a.scopeType(), a.scopeId());
            Set<Privilege> missing = missing(actor, r.privileges(), scope);
            if (!missing.isEmpty()) {
                throw refuse(actor, target, what + " user '" + target.username() + "' (who has role " + r.name()
                        + " on " + scope + ")", missing, scope);
            }
        }
    }

    private Set<Privilege> missing(Actor actor, Set<Privilege> wanted, Scope scope) {
        List<Principal.Grant> grants = repo.grants(actor.userId());
        Principal p = new Principal(actor.userId(), actor.name(), null, null, null, actor.address(), grants, false);
        List<Scope> path = scope.type().equals(Scope.GLOBAL) ? List.of(Scope.EVERYTHING) : scopePath.apply(scope);
        Set<Privilege> missing = EnumSet.noneOf(Privilege.class);
        for (Privilege x : wanted) {
            if (!p.may(x, path)) {
                missing.add(x);
            }
        }
        return missing;
    }

    private ApiException refuse(Actor actor, UserRecord target, String what, Set<Privilege> missing, Scope scope) {
        String lacks = missing.stream().sorted().map(Privilege::id).collect(Collectors.joining(", "));
        String detail = "user '" + actor.name() + "' may not " + what + ": it lacks " + lacks + " on " + scope
                + " (separation of duties: nobody hands on or acts with privileges they do not hold themselves)";
        audit.record(new AuditLog.Entry(actor, "access.denied", "user", target == null ? null : target.id(),
                target == null ? null : target.username(), null, Map.of("missing", missing.stream().sorted()
                .map(Privilege::id).toList(), "scope", scope.toString()), detail, Outcome.REFUSED, null));
        return new ApiException(403, "exceeds-own-privileges", "Exceeds own privileges", detail, null);
    }
}
