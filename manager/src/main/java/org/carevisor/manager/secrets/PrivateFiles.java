package org.carevisor.manager.secrets;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The manager's own directories (mode 0700) and files (0600), whatever the umask it was started with: the data
 * directory with the H2 files, the pki keys and the url files; the key directory; the anchor file's directory.
 * Modes are set when a file is created and corrected at every start (an existing installation made under a
 * default umask is tightened). Symbolic links are never followed. Thread-safe (stateless).
 */
public final class PrivateFiles {
    public static final Set<PosixFilePermission> DIRECTORY = PosixFilePermissions.fromString("rwx------");
    public static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");

    private PrivateFiles() {
    }

    /**
     * Creates {@code dir} with mode 0700 (and the parents it has to create, such as {@code var/}, too), or sets
     * 0700 on an existing one.
     */
    public static Path directory(Path dir) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            Path parent = dir.toAbsolutePath().getParent();
            if (parent != null && !Files.isDirectory(parent)) {
                Files.createDirectories(parent, attribute(DIRECTORY));
            }
            try {
                Files.createDirectory(dir, attribute(DIRECTORY));
            } catch (FileAlreadyExistsException e) {
                if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                    throw new IOException(dir + " exists and is not a directory", e);
                }
            }
        }
        Files.setPosixFilePermissions(dir, DIRECTORY);
        return dir;
    }

    /** Creates an empty file with mode 0600 if it does not exist; sets 0600 on an existing one. */
    public static Path file(Path file) throws IOException {
        try {
            Files.createFile(file, attribute(FILE));
        } catch (FileAlreadyExistsException e) {
            // kept; its mode is corrected below
        }
        Files.setPosixFilePermissions(file, FILE);
        return file;
    }

    /** Writes {@code text} to {@code file} atomically (a 0600 temporary file renamed over it). */
    public static void write(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, attribute(FILE));
        Files.writeString(tmp, text, java.nio.charset.StandardCharsets.UTF_8);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Sets 0700 on {@code dir} and its subdirectories and 0600 on every regular file in them (not following
     * symbolic links): the data directory of an installation made under a default umask.
     */
    public static void tighten(Path dir) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.toList()) {
                if (Files.isSymbolicLink(p)) {
                    continue;
                }
                try {
                    if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                        Files.setPosixFilePermissions(p, DIRECTORY);
                    } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                        Files.setPosixFilePermissions(p, FILE);
                    }
                } catch (java.nio.file.NoSuchFileException e) {
                    // a temporary file of the database, gone meanwhile
                }
            }
        }
    }

    /** True when {@code inner} is {@code outer} or lies below it (both made absolute and normalized). */
    public static boolean within(Path inner, Path outer) {
        return inner.toAbsolutePath().normalize().startsWith(outer.toAbsolutePath().normalize());
    }

    private static FileAttribute<Set<PosixFilePermission>> attribute(Set<PosixFilePermission> mode) {
        return PosixFilePermissions.asFileAttribute(mode);
    }
}
