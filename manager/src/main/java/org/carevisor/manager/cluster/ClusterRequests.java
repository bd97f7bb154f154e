package org.carevisor.manager.cluster;

/** Request bodies of the cluster endpoints; every field of a change is optional. */
public final class ClusterRequests {
    private ClusterRequests() {
    }

    /** Create or change a cluster. */
    public record Write(String name, String description, String cpuModel, String criticality, Double cpuOvercommit,
                        Double memoryOvercommit, Migration migration, Balancer balancer) {
    }

    /** Migration settings. */
    public record Migration(Integer bandwidthMiBps, Integer downtimeLimitMs, Boolean autoConverge, Integer maxParallel,
                            Integer timeoutSeconds) {
    }

    /** Balancer settings. */
    public record Balancer(String mode, Integer thresholdPercent, Integer intervalSeconds, Integer cooldownMinutes) {
    }
}
