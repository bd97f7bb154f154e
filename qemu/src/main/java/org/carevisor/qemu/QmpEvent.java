package org.carevisor.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/**
 * An asynchronous event QEMU sent on the monitor, e.g. SHUTDOWN, STOP, RESUME.
 *
 * @param name      event name
 * @param data      event data (an empty object when QEMU sent none)
 * @param timestamp when QEMU raised it
 */
public record QmpEvent(String name, JsonNode data, Instant timestamp) {
}
