package org.carevisor.agent.ha;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.carevisor.protocol.HaTimings;
import org.carevisor.protocol.LeaseSeen;

/**
 * The content of a host's storage lease file {@code <storageRoot>/.carevisor/leases/<hostId>.lease}: one
 * {@code key=value} per line, simple enough for the watchdog script to write as well:
 *
 * <pre>
 * host=3f6c...            the owner
 * counter=1234            grows by one with every renewal, never goes back
 * written=1767225600123   epoch milliseconds, by the writer's clock
 * writer=agent            agent, or keeper (the watchdog, while the agent is stopped in order)
 * released=vm1,vm2        HA VMs the owner powered off because it was isolated (may be empty)
 * endpoint=https://h:7701 the owner's agent API, probed by peers to tell isolation from a manager outage
 * </pre>
 *
 * Parsing is lenient about what it does not need (unknown keys, blank lines, {@code #} comments, a missing
 * endpoint or released line) and strict about what it does (host, counter, written). Immutable.
 *
 * @param hostId    the owner
 * @param counter   renewal counter
 * @param writtenAt when it was written (by the writer's clock)
 * @param writer    {@code agent} or {@code keeper}
 * @param released  VM ids released by the isolation response
 * @param endpoint  the owner's agent endpoint, or null
 */
public record LeaseFile(String hostId, long counter, Instant writtenAt, String writer, List<String> released,
                        String endpoint) {
    /** Suffix of lease files; temporary files of writers start with a dot and end otherwise. */
    public static final String SUFFIX = ".lease";
    public static final String AGENT = "agent";
    public static final String KEEPER = "keeper";

    public LeaseFile {
        released = released == null ? List.of() : List.copyOf(released);
    }

    /** The directory of all lease files of the storage at {@code storageRoot}. */
    public static Path directory(Path storageRoot) {
        return storageRoot.resolve(HaTimings.LEASE_DIR);
    }

    /** The lease file of {@code hostId}. */
    public static Path of(Path storageRoot, String hostId) {
        return directory(storageRoot).resolve(hostId + SUFFIX);
    }

    /** The file text. */
    public String format() {
        return "host=" + hostId + "\n"
                + "counter=" + counter + "\n"
                + "written=" + writtenAt.toEpochMilli() + "\n"
                + "writer=" + writer + "\n"
                + "released=" + String.join(",", released) + "\n"
                + "endpoint=" + (endpoint == null ? "" : endpoint) + "\n";
    }

    /** What the report carries. */
    public LeaseSeen seen() {
        return new LeaseSeen(hostId, counter, writtenAt, writer, released);
    }

    /** Parses a lease file's text; throws {@link IllegalArgumentException} naming what is wrong. */
    public static LeaseFile parse(String text) {
        String host = null;
        Long counter = null;
        Instant written = null;
        String writer = AGENT;
        List<String> released = List.of();
        String endpoint = null;
        for (String raw : text.lines().toList()) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("line '" + abbreviate(line) + "' is not key=value");
            }
            String key = line.substring(0, eq).strip();
            String value = line.substring(eq + 1).strip();
            switch (key) {
                case "host" -> host = value;
                case "counter" -> counter = number(key, value);
                case "written" -> written = Instant.ofEpochMilli(number(key, value));
                case "writer" -> writer = value.isEmpty() ? AGENT : value;
                case "released" -> released = ids(value);
                case "endpoint" -> endpoint = value.isEmpty() ? null : value;
                default -> {
                    // a newer writer's field
                }
            }
        }
        if (host == null || host.isEmpty() || counter == null || written == null) {
            throw new IllegalArgumentException("host, counter and written are required");
        }
        return new LeaseFile(host, counter, written, writer, released, endpoint);
    }

    private static long number(String key, String value) {
        try {
            long n = Long.parseLong(value);
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(key + " '" + abbreviate(value) + "' is not a non-negative number");
    }

    private static List<String> ids(String value) {
        List<String> out = new ArrayList<>();
        Arrays.stream(value.split(",")).map(String::strip).filter(s -> !s.isEmpty()).forEach(out::add);
        return out;
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }
}
