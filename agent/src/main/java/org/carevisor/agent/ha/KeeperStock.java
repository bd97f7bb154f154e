package org.carevisor.agent.ha;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.PrivateKey;
import java.time.Instant;
import java.util.List;
import org.carevisor.agent.storage.FileTrees;
import org.carevisor.protocol.HaTimings;
import org.carevisor.protocol.SignedLease;

/**
 * The leases an agent that stops in order signs ahead for its watchdog: {@code <stateDir>/ha/keeper/<counter>.lease},
 * one per renewal period from the next counter on, each a complete {@link SignedLease} with {@code writer=keeper},
 * padded as the lease file is ({@link LeaseFile}), so the watchdog copies it in place.
 * The watchdog script cannot sign (the key stays in the agent), so in mode keeper it copies lease {@code
 * <ha/counter + 1>.lease} to the storage once a second and removes it; when there is none left, renewals stop and it
 * kills the HA VMs after the self-fence time, as when the storage fails. A stock bounds how long a stopped agent's
 * host may look alive; a new agent removes what is left after its first renewal, so an unused lease is never
 * written. Written to a temporary directory and renamed, so the watchdog never sees half a stock. Stateless.
 */
final class KeeperStock {
    private KeeperStock() {
    }

    static Path directory(HaDir ha) {
        return ha.path().resolve("keeper");
    }

    /**
     * Signs {@code count} keeper leases of {@code hostId}, counters {@code from} to {@code from + count - 1}, the
     * i-th written (by its stated time) {@code i} renewal periods after {@code start}, each listing {@code released};
     * replaces any earlier stock. Returns how many were written.
     */
    static int write(HaDir ha, PrivateKey key, String hostId, String endpoint, long from, int count,
                     List<SignedLease.Released> released, Instant start) throws IOException {
        Path dir = directory(ha);
        Path tmp = ha.path().resolve("keeper.tmp");
        FileTrees.delete(tmp);
        Files.createDirectories(tmp);
        for (int i = 0; i < count; i++) {
            long counter = from + i;
            Instant written = start.plus(HaTimings.LEASE_RENEW.multipliedBy(i + 1L));
            String text = new SignedLease(hostId, counter, written, SignedLease.KEEPER, released, endpoint).sign(key);
            Files.write(tmp.resolve(counter + LeaseFile.SUFFIX), LeaseFile.padded(text));
        }
        FileTrees.delete(dir);
        Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        return count;
    }

    /** Removes the stock (a new agent renews the lease itself). */
    static void clear(HaDir ha) {
        try {
            FileTrees.delete(directory(ha));
            FileTrees.delete(ha.path().resolve("keeper.tmp"));
            Files.deleteIfExists(ha.path().resolve("keeper.exhausted"));
        } catch (IOException e) {
            org.slf4j.LoggerFactory.getLogger(KeeperStock.class).warn("cannot remove the keeper's leases in {}: {}",
                    directory(ha), e.getMessage());
        }
    }

    /** How many leases are left. */
    static int remaining(HaDir ha) {
        try (var files = Files.list(directory(ha))) {
            return (int) files.filter(f -> f.getFileName().toString().endsWith(LeaseFile.SUFFIX)).count();
        } catch (IOException e) {
            return 0;
        }
    }
}
