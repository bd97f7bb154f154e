package org.carevisor.manager.host;

import java.time.Instant;
import java.util.List;
import org.carevisor.protocol.HostInventory;

/**
 * A host as stored: its last inventory and when it was first and last seen, its cluster and tags, whether
 * it is in maintenance, and the memory kept back for the host itself.
 */
public record HostRecord(String id, String name, String endpoint, HostInventory inventory, Instant firstSeen,
                         Instant lastSeen, String clusterId, List<String> tags, boolean maintenance,
                         String maintenanceReason, Instant maintenanceSince, int reservedMemoryMiB,
                         String description) {
    public HostRecord {
        tags = tags == null ? List.of() : List.copyOf(tags);
    }
}
