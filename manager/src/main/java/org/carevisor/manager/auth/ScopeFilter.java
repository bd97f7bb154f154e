package org.carevisor.manager.auth;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.jdbi.v3.core.statement.SqlStatement;

/**
 * The scopes in which a caller holds one privilege, as SQL conditions on VM and host rows, so that lists are
 * filtered in the query, before its LIMIT (a caller with a role on one VM sees that VM's newest tasks, not the
 * part of the newest 50 tasks of all VMs that happens to be theirs). Immutable.
 */
public record ScopeFilter(boolean everything, Set<String> clusters, Set<String> hosts, Set<String> vms) {
    public static final ScopeFilter EVERYTHING = new ScopeFilter(true, Set.of(), Set.of(), Set.of());

    /** Where {@code p} holds {@code privilege}. */
    public static ScopeFilter of(Principal p, Privilege privilege) {
        Set<String> clusters = new TreeSet<>();
        Set<String> hosts = new TreeSet<>();
        Set<String> vms = new TreeSet<>();
        for (Principal.Grant g : p.grants()) {
            if (!g.privileges().contains(privilege)) {
                continue;
            }
            switch (g.scope().type()) {
                case Scope.GLOBAL -> {
                    return EVERYTHING;
                }
                case Scope.CLUSTER -> clusters.add(g.scope().id());
                case Scope.HOST -> hosts.add(g.scope().id());
                case Scope.VM -> vms.add(g.scope().id());
                default -> throw new IllegalStateException("unknown scope type " + g.scope().type());
            }
        }
        return new ScopeFilter(false, Set.copyOf(clusters), Set.copyOf(hosts), Set.copyOf(vms));
    }

    /** SQL condition: the VM row {@code alias} (columns id, cluster_id, host_id) is in these scopes. */
    public String vmCondition(String alias) {
        if (everything) {
            return "1 = 1";
        }
        List<String> or = new ArrayList<>();
        if (!clusters.isEmpty()) {
            or.add(alias + ".cluster_id IN (<sf_clusters>)");
        }
        if (!hosts.isEmpty()) {
            or.add(alias + ".host_id IN (<sf_hosts>)");
        }
        if (!vms.isEmpty()) {
            or.add(alias + ".id IN (<sf_vms>)");
        }
        return or.isEmpty() ? "1 = 0" : "(" + String.join(" OR ", or) + ")";
    }

    /** SQL condition: the host row {@code alias} (columns id, cluster_id) is in these scopes. */
    public String hostCondition(String alias) {
        if (everything) {
            return "1 = 1";
        }
        List<String> or = new ArrayList<>();
        if (!clusters.isEmpty()) {
            or.add(alias + ".cluster_id IN (<sf_clusters>)");
        }
        if (!hosts.isEmpty()) {
            or.add(alias + ".id IN (<sf_hosts>)");
        }
        return or.isEmpty() ? "1 = 0" : "(" + String.join(" OR ", or) + ")";
    }

    /** Binds the lists the conditions name. */
    public <T extends SqlStatement<T>> T bind(T q) {
        if (!everything) {
            if (!clusters.isEmpty()) {
                q.bindList("sf_clusters", List.copyOf(clusters));
            }
            if (!hosts.isEmpty()) {
                q.bindList("sf_hosts", List.copyOf(hosts));
            }
            if (!vms.isEmpty()) {
                q.bindList("sf_vms", List.copyOf(vms));
            }
        }
        return q;
    }
}
