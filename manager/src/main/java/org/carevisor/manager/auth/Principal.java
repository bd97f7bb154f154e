package org.carevisor.manager.auth;

import java.util.List;
import java.util.Set;

/**
 * An authenticated caller: the user, how they authenticated (a login session or an API token), from where,
 * and what they may do where.
 */
public record Principal(String userId, String username, String fullName, String tokenId, String tokenKind,
                        String address, List<Grant> grants, boolean mustChangePassword) {
    /** Privileges on one scope, from one role assignment. */
    public record Grant(String role, Set<Privilege> privileges, Scope scope) {
    }

    /** True when some grant gives {@code p} on one of the scopes of {@code path}. */
    public boolean may(Privilege p, List<Scope> path) {
        for (Grant g : grants) {
            if (g.privileges().contains(p)) {
                for (Scope s : path) {
                    if (g.scope().contains(s)) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    /** True when some grant gives {@code p} anywhere (the caller then sees a filtered list). */
    public boolean mayAnywhere(Privilege p) {
        return grants.stream().anyMatch(g -> g.privileges().contains(p));
    }

    public boolean mayEverywhere(Privilege p) {
        return may(p, List.of(Scope.EVERYTHING));
    }
}
