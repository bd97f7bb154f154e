package org.carevisor.agent.vm;

import com.fasterxml.jackson.databind.JsonNode;
import org.carevisor.protocol.MigrationStatus;
import org.carevisor.protocol.VmStatus;

/** Turns QEMU's {@code query-migrate} answer into the protocol's {@link MigrationStatus}. Pure. */
final class MigrationInfo {
    private MigrationInfo() {
    }

    static MigrationStatus from(String vmId, JsonNode q, VmStatus vm) {
        JsonNode ram = q.path("ram");
        return new MigrationStatus(vmId, q.path("status").asText("none"), ram.path("total").asLong(0),
                ram.path("transferred").asLong(0), ram.path("remaining").asLong(0),
                ram.path("dirty-pages-rate").asLong(0), ram.path("dirty-sync-count").asLong(0),
                optional(q, "expected-downtime"), optional(q, "downtime"), optional(q, "total-time"),
                optional(q, "setup-time"), q.path("cpu-throttle-percentage").asInt(0),
                q.hasNonNull("error-desc") ? q.get("error-desc").asText() : null, vm);
    }

    /**
     * False for the moment between QEMU announcing {@code completed} and computing the migration's figures:
     * the migration thread sets the state (and sends the event) first and fills in {@code total-time} and
     * {@code downtime} only when it next gets the big QEMU lock, so a query answered in between reports
     * {@code completed} with both 0. A caller that wants the figures asks again.
     */
    static boolean figuresReady(JsonNode q) {
        return !"completed".equals(q.path("status").asText()) || q.path("total-time").asLong(0) > 0;
    }

    private static Long optional(JsonNode q, String field) {
        return q.hasNonNull(field) ? q.get(field).asLong() : null;
    }
}
