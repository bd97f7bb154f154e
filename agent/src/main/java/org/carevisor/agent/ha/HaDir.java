package org.carevisor.agent.ha;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * The agent-local HA files in {@code <stateDir>/ha/}: the contract between the agent and its watchdog script
 * ({@link Watchdog#SCRIPT}), which reads and writes them too. All are small text files replaced atomically
 * (written under a temporary name in the same directory, then renamed), so a reader never sees half a file.
 *
 * <ul>
 *   <li>{@code renewed}: epoch milliseconds of the last successful lease renewal (agent or keeper)</li>
 *   <li>{@code counter}: the last lease counter written by this host (agent or keeper)</li>
 *   <li>{@code mode}: {@code agent}, {@code keeper} or {@code off} (see {@link Watchdog.Mode})</li>
 *   <li>{@code pids}: {@code <vmId> <qemuPid>} per line, the running HA VMs the watchdog kills</li>
 *   <li>{@code self-fenced}: {@code <epochSeconds> <vmId> <pid> <staleSeconds>} per VM the watchdog killed</li>
 *   <li>{@code ack.json}: the manager's last {@link org.carevisor.protocol.ReportAck}</li>
 *   <li>{@code keeper/<counter>.lease}: leases the agent signed ahead for the keeper ({@link KeeperStock})</li>
 *   <li>{@code watchdog.pid}, {@code watchdog.log}: the watchdog process and what it did</li>
 * </ul>
 *
 * Stateless apart from the path; thread-safe (concurrent writers of the same file serialize on this object).
 */
public final class HaDir {
    private final Path dir;

    /** The HA directory of the agent whose state directory is {@code stateDir}. */
    public HaDir(Path stateDir) {
        this.dir = stateDir.resolve("ha");
    }

    public Path path() {
        return dir;
    }

    public Path renewed() {
        return dir.resolve("renewed");
    }

    public Path counter() {
        return dir.resolve("counter");
    }

    public Path mode() {
        return dir.resolve("mode");
    }

    public Path pids() {
        return dir.resolve("pids");
    }

    public Path selfFenced() {
        return dir.resolve("self-fenced");
    }

    public Path ack() {
        return dir.resolve("ack.json");
    }

    public Path watchdogPid() {
        return dir.resolve("watchdog.pid");
    }

    public Path watchdogLog() {
        return dir.resolve("watchdog.log");
    }

    /** Replaces a file of this directory atomically (not fsynced: these files are host-local and rewritten often). */
    public synchronized void write(Path file, String content) throws IOException {
        Files.createDirectories(dir);
        replace(file, file.resolveSibling(file.getFileName() + ".tmp"), content, false);
    }

    /** The first line of a file, stripped; empty when the file does not exist. */
    public Optional<String> readLine(Path file) throws IOException {
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            return Optional.of(text.lines().findFirst().orElse("").strip());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    /** A non-negative number from the first line of a file; 0 when the file is missing or holds no number. */
    long readNumber(Path file) {
        try {
            return readLine(file).map(Long::parseLong).filter(n -> n >= 0).orElse(0L);
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }

    /**
     * Writes {@code content} to {@code tmp}, optionally forces it to disk, and renames it over {@code target}.
     * With {@code durable} the directory is forced too (where the file system allows it), so the rename
     * survives a power loss.
     */
    static void replace(Path target, Path tmp, String content, boolean durable) throws IOException {
        replace(target, tmp, content.getBytes(StandardCharsets.UTF_8), durable);
    }

    /** The same with the file's bytes. */
    static void replace(Path target, Path tmp, byte[] content, boolean durable) throws IOException {
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer bytes = ByteBuffer.wrap(content);
            while (bytes.hasRemaining()) {
                ch.write(bytes);
            }
            if (durable) {
                ch.force(true);
            }
        }
        try {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        if (durable) {
            try (FileChannel d = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
                d.force(true);
            } catch (IOException e) {
                // some file systems cannot sync a directory; the file itself is on disk
            }
        }
    }
}
