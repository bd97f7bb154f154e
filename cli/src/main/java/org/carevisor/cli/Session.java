package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The login session {@code carevisor login} keeps between commands: a JSON file
 * {@code {"url","token","username","expiresAt"}} readable and writable only by its owner (0600, in a 0700
 * directory when the CLI creates it).
 */
public record Session(String url, String token, String username, String expiresAt) {
    private static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> DIR = PosixFilePermissions.fromString("rwx------");

    /** The session in {@code file}, or null when there is none. */
    public static Session read(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            JsonNode n;
            try {
                n = ApiClient.json().readTree(Files.readAllBytes(file));
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                n = null;
            }
            if (n == null || !n.isObject() || n.path("token").asText("").isBlank()) {
                throw new CliException(ExitCodes.ERROR, "the session file " + file + " is damaged; delete it and log"
                        + " in again (carevisor login USER)");
            }
            return new Session(text(n, "url"), n.path("token").asText().strip(), text(n, "username"),
                    text(n, "expiresAt"));
        } catch (IOException e) {
            throw new CliException(ExitCodes.ERROR, "cannot read the session file " + file + ": " + e.getMessage());
        }
    }

    /** Writes the session to {@code file} atomically, with permissions 0600 (parent directory 0700 if created). */
    public void write(Path file) {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        boolean posix = dir.getFileSystem().supportedFileAttributeViews().contains("posix");
        try {
            createDirectories(dir, posix);
            ObjectNode n = ApiClient.json().createObjectNode().put("url", url).put("token", token)
                    .put("username", username).put("expiresAt", expiresAt);
            byte[] bytes = ApiClient.json().writerWithDefaultPrettyPrinter().writeValueAsBytes(n);
            Path tmp = posix ? Files.createTempFile(dir, ".session-", ".tmp", PosixFilePermissions.asFileAttribute(FILE))
                    : Files.createTempFile(dir, ".session-", ".tmp");
            try {
                Files.write(tmp, bytes);
                if (posix) {
                    Files.setPosixFilePermissions(tmp, FILE);
                }
                try {
                    Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new CliException(ExitCodes.ERROR, "cannot write the session file " + file + ": " + e.getMessage());
        }
    }

    /** Deletes the session file; true when there was one. */
    public static boolean delete(Path file) {
        try {
            return Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new CliException(ExitCodes.ERROR, "cannot delete the session file " + file + ": " + e.getMessage());
        }
    }

    /** True when this session belongs to the manager at {@code url} (trailing slashes ignored). */
    boolean isFor(String url) {
        return this.url == null || normalize(this.url).equals(normalize(url));
    }

    static String normalize(String url) {
        return url == null ? "" : url.strip().replaceAll("/+$", "");
    }

    private static void createDirectories(Path dir, boolean posix) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        Path parent = dir.getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            Files.createDirectories(parent);
        }
        try {
            if (posix) {
                FileAttribute<Set<PosixFilePermission>> attr = PosixFilePermissions.asFileAttribute(DIR);
                Files.createDirectory(dir, attr);
                Files.setPosixFilePermissions(dir, DIR); // the umask may have removed bits; never added any
            } else {
                Files.createDirectory(dir);
            }
        } catch (FileAlreadyExistsException e) {
            // made concurrently
        }
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }
}
