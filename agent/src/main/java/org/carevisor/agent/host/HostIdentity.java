package org.carevisor.agent.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/** The host's stable id, created on the agent's first start and kept in its state directory. */
public final class HostIdentity {
    private HostIdentity() {
    }

    public static String loadOrCreate(Path stateDir) throws IOException {
        Path file = stateDir.resolve("host-id");
        if (Files.exists(file)) {
            String id = Files.readString(file, StandardCharsets.UTF_8).strip();
            UUID.fromString(id);
            return id;
        }
        String id = UUID.randomUUID().toString();
        Files.createDirectories(stateDir);
        Files.writeString(file, id + "\n", StandardCharsets.UTF_8);
        return id;
    }
}
