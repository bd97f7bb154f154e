package org.carevisor.manager.cluster;

import java.time.Instant;

/**
 * A cluster: hosts with one CPU model baseline (so VMs can move between them), one shared storage domain and
 * one criticality class, with its overcommit, migration and balancing settings.
 *
 * @param storageDomainId the shared storage every host of the cluster must see (set by the first host)
 */
public record ClusterRecord(String id, String name, String description, String cpuModel, String criticality,
                            String storageDomainId, double cpuOvercommit, double memoryOvercommit,
                            Migration migration, Balancer balancer, Instant createdAt, Instant updatedAt) {
    /** The id of the cluster hosts join when their join token names none. */
    public static final String DEFAULT_ID = "00000000-0000-4000-8000-000000000001";

    /** Live migration settings. */
    public record Migration(int bandwidthMiBps, int downtimeLimitMs, boolean autoConverge, int maxParallel,
                            int timeoutSeconds) {
    }

    /** Balancer settings: {@code mode} is off, recommend or automatic. */
    public record Balancer(String mode, int thresholdPercent, int intervalSeconds, int cooldownMinutes) {
    }
}
