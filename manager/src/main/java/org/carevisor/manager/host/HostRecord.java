package org.carevisor.manager.host;

import java.time.Instant;
import org.carevisor.protocol.HostInventory;

/** A host as stored: its last inventory and when it was first and last seen. */
public record HostRecord(String id, String name, String endpoint, HostInventory inventory, Instant firstSeen,
                         Instant lastSeen) {
}
