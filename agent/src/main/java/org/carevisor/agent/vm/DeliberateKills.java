package org.carevisor.agent.vm;

import java.time.Instant;
import java.util.Optional;

/**
 * Tells whether a QEMU process that ended was killed on purpose by something outside the agent (the HA
 * watchdog), so that its exit is not reported as a crash. Implementations must be thread-safe and quick.
 */
@FunctionalInterface
public interface DeliberateKills {
    /** Nothing kills VMs on purpose. */
    DeliberateKills NONE = (vmId, pid, startedAt) -> Optional.empty();

    /**
     * The reason for operators when QEMU process {@code pid} of VM {@code vmId}, started at {@code startedAt}
     * (null: unknown), was killed on purpose; empty otherwise.
     */
    Optional<String> reason(String vmId, long pid, Instant startedAt);
}
