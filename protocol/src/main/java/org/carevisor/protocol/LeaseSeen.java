package org.carevisor.protocol;

import java.time.Instant;
import java.util.List;

/**
 * A host's storage lease as an agent read it from the shared storage.
 *
 * @param hostId    the host that owns the lease
 * @param counter   renewal counter; grows with every renewal
 * @param writtenAt when the owner wrote it (by the owner's clock; informational)
 * @param writer    {@code agent}, or {@code keeper} while the agent is stopped in order and its watchdog keeps
 *                  the lease for the VMs that go on running
 * @param released  HA VMs the owner stopped because it was isolated (isolation response): they may run elsewhere
 */
public record LeaseSeen(String hostId, long counter, Instant writtenAt, String writer, List<String> released) {
    public LeaseSeen {
        released = released == null ? List.of() : List.copyOf(released);
    }
}
