package org.carevisor.agent.storage;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The identity of a shared storage domain: a UUID in the file {@code .carevisor-domain} at its root, written
 * by the first agent that finds none. Hosts that report the same id see the same storage, which the manager
 * checks before it lets a VM move between them.
 */
final class StorageDomain {
    private static final Pattern UUID_TEXT = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    private StorageDomain() {
    }

    /** Reads the id, or creates it; safe when several agents on the same storage start at once. */
    static String loadOrCreate(Path file) throws IOException {
        for (int attempt = 0; attempt < 50; attempt++) {
            if (Files.exists(file)) {
                String id = Files.readString(file, StandardCharsets.UTF_8).strip();
                if (UUID_TEXT.matcher(id).matches()) {
                    return id;
                }
                if (!id.isEmpty()) {
                    throw new IOException(file + " does not hold a storage domain id ('" + id
                            + "'); remove it only if no other host uses this storage");
                }
            } else {
                Path tmp = file.resolveSibling(file.getFileName() + "." + UUID.randomUUID() + ".tmp");
                Files.writeString(tmp, UUID.randomUUID() + "\n", StandardCharsets.UTF_8);
                try {
                    // a hard link does not replace an existing file: exactly one agent wins
                    Files.createLink(file, tmp);
                } catch (FileAlreadyExistsException e) {
                    // another agent was first; read its id
                } finally {
                    Files.deleteIfExists(tmp);
                }
                continue;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while reading " + file, e);
            }
        }
        throw new IOException("cannot read the storage domain id from " + file);
    }
}
