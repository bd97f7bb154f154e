package org.carevisor.agent.ha;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.carevisor.agent.vm.DeliberateKills;
import org.carevisor.protocol.HaTimings;

/**
 * Reads {@link HaDir#selfFenced()}, where the watchdog records every QEMU it kills ({@code <epochSeconds>
 * <vmId> <pid> <staleSeconds>}, written just before the kill), so that the VM's stop is reported with cause
 * {@code self-fence} instead of as a crash. An entry counts for a process when VM id and pid match and it
 * was written after the process started (a pid used again later does not match an old entry). Stateless;
 * thread-safe.
 */
public final class SelfFenceLog implements DeliberateKills {
    /** Clock slack between the watchdog's whole seconds and the process start time. */
    private static final Duration SLACK = Duration.ofSeconds(2);

    private final HaDir ha;

    public SelfFenceLog(HaDir ha) {
        this.ha = ha;
    }

    @Override
    public Optional<String> reason(String vmId, long pid, Instant startedAt) {
        List<String> lines;
        try {
            lines = Files.readAllLines(ha.selfFenced(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return Optional.empty(); // none (nothing was ever killed) or unreadable
        }
        for (int i = lines.size() - 1; i >= 0; i--) {
            String[] f = lines.get(i).strip().split("\\s+");
            if (f.length < 3 || !f[1].equals(vmId) || !f[2].equals(Long.toString(pid))) {
                continue;
            }
            try {
                Instant at = Instant.ofEpochSecond(Long.parseLong(f[0]));
                if (startedAt != null && at.isBefore(startedAt.minus(SLACK))) {
                    continue;
                }
                long stale = f.length > 3 ? Long.parseLong(f[3]) : HaTimings.SELF_FENCE.toSeconds();
                return Optional.of(reason(stale));
            } catch (NumberFormatException e) {
                // a broken line; look further
            }
        }
        return Optional.empty();
    }

    /** The reason reported for a VM the watchdog killed after {@code staleSeconds} without lease renewal. */
    public static String reason(long staleSeconds) {
        return "killed by the HA watchdog: the host's storage lease was not renewed for " + staleSeconds + " s";
    }
}
