package org.carevisor.manager.auth;

import java.util.List;

/**
 * Where a role assignment applies: {@code global} (everything), a {@code cluster}, a {@code host} or a
 * {@code vm}. An object's scope path lists every scope that contains it, e.g. a VM: global, its cluster,
 * its host, itself; an assignment on any of them applies to the object.
 */
public record Scope(String type, String id) {
    public static final String GLOBAL = "global";
    public static final String CLUSTER = "cluster";
    public static final String HOST = "host";
    public static final String VM = "vm";
    public static final Scope EVERYTHING = new Scope(GLOBAL, null);

    public static List<Scope> ofVm(String clusterId, String hostId, String vmId) {
        return hostId == null ? List.of(EVERYTHING, new Scope(CLUSTER, clusterId), new Scope(VM, vmId))
                : List.of(EVERYTHING, new Scope(CLUSTER, clusterId), new Scope(HOST, hostId), new Scope(VM, vmId));
    }

    public static List<Scope> ofHost(String clusterId, String hostId) {
        return List.of(EVERYTHING, new Scope(CLUSTER, clusterId), new Scope(HOST, hostId));
    }

    public static List<Scope> ofCluster(String clusterId) {
        return List.of(EVERYTHING, new Scope(CLUSTER, clusterId));
    }

    public boolean contains(Scope s) {
        return type.equals(s.type) && (id == null ? s.id == null : id.equals(s.id));
    }

    @Override
    public String toString() {
        return id == null ? type : type + ":" + id;
    }
}
