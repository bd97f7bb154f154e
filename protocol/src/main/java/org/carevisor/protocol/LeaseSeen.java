package org.carevisor.protocol;

import java.time.Instant;
import java.util.List;

/**
 * A host's storage lease as an agent read it from the shared storage. The manager acts only on {@code text}, after
 * checking its signature with the owner's certificate ({@link SignedLease#verify}); the other fields say the same
 * for a reader (and for managers of the previous version, which know only them).
 *
 * @param hostId    the host that owns the lease
 * @param counter   renewal counter; grows with every renewal
 * @param writtenAt when the owner wrote it (by the owner's clock; informational)
 * @param writer    {@code agent}, or {@code keeper} while the agent is stopped in order and its watchdog writes the
 *                  leases the agent signed in advance
 * @param released  HA VMs the owner stopped because it was isolated (isolation response): they may run elsewhere
 * @param text      the lease file's complete text as read (signed by the owner), or null from an older agent
 */
public record LeaseSeen(String hostId, long counter, Instant writtenAt, String writer, List<String> released,
                        String text) {
    public LeaseSeen {
        released = released == null ? List.of() : List.copyOf(released);
    }

    /** An observation without the lease text (as agents of the previous version report it). */
    public LeaseSeen(String hostId, long counter, Instant writtenAt, String writer, List<String> released) {
        this(hostId, counter, writtenAt, writer, released, null);
    }
}
