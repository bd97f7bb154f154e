package org.carevisor.agent.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.UUID;
import org.carevisor.pki.Tls;

/**
 * The host's id, kept in {@code <state>/host-id}. The manager assigns it when the agent enrolls (the agent
 * stores what it is given); an enrolled agent's id is the one in its certificate ({@code CN=host:<id>}).
 */
public final class HostIdentity {
    private static final String PREFIX = "host:";

    private HostIdentity() {
    }

    /** The id in the state directory, if this agent has one (it enrolled before, or is being re-enrolled). */
    public static Optional<String> load(Path stateDir) throws IOException {
        Path file = stateDir.resolve("host-id");
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        String id = Files.readString(file, StandardCharsets.UTF_8).strip();
        if (!isUuid(id)) {
            throw new IllegalStateException(file + " does not hold a host id (a lower-case UUID)");
        }
        return Optional.of(id);
    }

    /** Writes the id (the manager's choice) to the state directory, replacing what was there. */
    public static void store(Path stateDir, String id) throws IOException {
        UUID.fromString(id);
        Files.createDirectories(stateDir);
        Path file = stateDir.resolve("host-id");
        Path tmp = stateDir.resolve("host-id.tmp");
        Files.writeString(tmp, id + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * The host id for an agent with {@code identity}: the one its certificate names (kept in the state directory
     * too); for a certificate that names no host id (one provisioned by other means, as tests do) the one in the
     * state directory, created once.
     */
    public static String of(Path stateDir, Tls.Identity identity) throws IOException {
        String cn = identity.commonName();
        if (cn.startsWith(PREFIX) && isUuid(cn.substring(PREFIX.length()))) {
            String id = cn.substring(PREFIX.length());
            if (!load(stateDir).map(id::equals).orElse(false)) {
                store(stateDir, id);
            }
            return id;
        }
        Optional<String> kept = load(stateDir);
        if (kept.isPresent()) {
            return kept.get();
        }
        String id = UUID.randomUUID().toString();
        store(stateDir, id);
        return id;
    }

    static boolean isUuid(String s) {
        try {
            return UUID.fromString(s).toString().equals(s);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
