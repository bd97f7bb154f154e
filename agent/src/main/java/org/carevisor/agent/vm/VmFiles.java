package org.carevisor.agent.vm;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.ConsoleChunk;
import org.carevisor.protocol.ProtocolJson;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmSpec;
import org.carevisor.protocol.VmStatus;
import org.carevisor.qemu.VmRuntimePaths;

/**
 * The agent-local files of one VM: its runtime paths plus the spec it was started with, the pending stop
 * request and the exit status the wrapper writes. These files let a restarted agent re-adopt the VM.
 */
public final class VmFiles {
    private static final int CONSOLE_CHUNK_MAX = 256 * 1024;

    /** A stop the agent was asked for: why, and when to power off if the guest has not stopped. */
    public record StopRequest(StopCause cause, Instant deadline) {
    }

    /** The wrapper's record of QEMU's end: exit code (128+n for signal n) and when. */
    public record ExitStatus(int code, Instant at) {
    }

    private final VmRuntimePaths paths;

    /** The files of a VM in {@code directory}, with its sockets in {@code socketDirectory}. */
    public VmFiles(Path directory, Path socketDirectory) {
        this.paths = new VmRuntimePaths(directory, socketDirectory);
    }

    public VmRuntimePaths paths() {
        return paths;
    }

    public Path directory() {
        return paths.directory();
    }

    Path specFile() {
        return directory().resolve("spec.json");
    }

    Path verdictFile() {
        return directory().resolve("last-exit.json");
    }

    Path stopRequestFile() {
        return directory().resolve("stop-request");
    }

    /** Present while this host's QEMU is the destination of a migration whose guest has not run here yet. */
    Path incomingMarker() {
        return directory().resolve("incoming");
    }

    void markIncoming(boolean incoming) {
        try {
            if (incoming) {
                writeAtomically(incomingMarker(), "migration destination; the guest has not run here\n");
            } else {
                Files.deleteIfExists(incomingMarker());
            }
        } catch (IOException e) {
            throw new AgentException(500, "io-error", "cannot write " + incomingMarker() + ": " + e.getMessage(), e);
        }
    }

    boolean isIncoming() {
        return Files.exists(incomingMarker());
    }

    /** Removes what a previous run left and bounds the console log; keeps the console history. */
    void prepareForStart(VmSpec spec) throws IOException {
        Files.createDirectories(directory());
        Files.createDirectories(paths.socketDirectory());
        for (Path p : List.of(paths.qmpSocket(), paths.consoleSocket(), paths.pidFile(), paths.exitStatus(),
                stopRequestFile(), verdictFile(), incomingMarker())) {
            Files.deleteIfExists(p);
        }
        boundConsoleLog();
        writeAtomically(specFile(), ProtocolJson.mapper().writeValueAsString(spec));
    }

    /** Cuts the console log back when it is over its bound (see {@link ConsoleLog}). */
    public boolean boundConsoleLog() throws IOException {
        return ConsoleLog.bound(paths.consoleLog(), ConsoleLog.PART_BYTES, ConsoleLog.KEEP_PARTS);
    }

    Optional<VmSpec> readSpec() {
        try {
            return Optional.of(ProtocolJson.mapper().readValue(specFile().toFile(), VmSpec.class));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    Optional<Long> readPid() {
        try {
            return Optional.of(Long.parseLong(Files.readString(paths.pidFile()).strip()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** When QEMU wrote its pid file (about when it started). */
    Optional<Instant> pidWrittenAt() {
        try {
            return Optional.of(Files.getLastModifiedTime(paths.pidFile()).toInstant());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    Optional<ExitStatus> readExitStatus() {
        try {
            String[] parts = Files.readString(paths.exitStatus()).strip().split("\\s+");
            return Optional.of(new ExitStatus(Integer.parseInt(parts[0]),
                    parts.length > 1 ? Instant.ofEpochSecond(Long.parseLong(parts[1])) : Instant.now()));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Keeps how the last run ended, so a restarted agent reports the same reason. */
    void writeVerdict(VmStatus status) {
        try {
            writeAtomically(verdictFile(), ProtocolJson.mapper().writeValueAsString(status));
        } catch (IOException e) {
            // the reason is then reconstructed from the exit status after a restart
        }
    }

    Optional<VmStatus> readVerdict() {
        try {
            return Optional.of(ProtocolJson.mapper().readValue(verdictFile().toFile(), VmStatus.class));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    void writeStopRequest(StopRequest request) throws IOException {
        writeAtomically(stopRequestFile(), request.cause().name() + " " + request.deadline().toEpochMilli());
    }

    Optional<StopRequest> readStopRequest() {
        try {
            String[] parts = Files.readString(stopRequestFile()).strip().split("\\s+");
            return Optional.of(new StopRequest(StopCause.valueOf(parts[0]),
                    Instant.ofEpochMilli(Long.parseLong(parts[1]))));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** The last non-empty lines of QEMU's own log (its error messages), for crash and start-failure reasons. */
    String qemuLogTail(int lines) {
        try {
            List<String> all = Files.readAllLines(paths.qemuLog(), StandardCharsets.UTF_8).stream()
                    .filter(l -> !l.isBlank()).toList();
            return String.join(" | ", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "";
        }
    }

    /**
     * Reads the console log from {@code offset}; a negative offset counts from the end. An offset beyond
     * the end (the log was rotated) starts again at 0.
     */
    public ConsoleChunk readConsole(long offset, int max) {
        Path log = paths.consoleLog();
        if (!Files.exists(log)) {
            return new ConsoleChunk(0, 0, "");
        }
        int limit = Math.max(1, Math.min(max <= 0 ? CONSOLE_CHUNK_MAX : max, CONSOLE_CHUNK_MAX));
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
            long size = f.length();
            long start = offset < 0 ? Math.max(0, size + offset) : offset > size ? 0 : offset;
            int len = (int) Math.min(limit, size - start);
            byte[] bytes = new byte[len];
            f.seek(start);
            f.readFully(bytes);
            return new ConsoleChunk(start, start + len, new String(bytes, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new AgentException(500, "console-read-failed", "cannot read console log " + log + ": "
                    + e.getMessage());
        }
    }

    static void writeAtomically(Path target, String content) throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        Files.writeString(tmp, content, StandardCharsets.UTF_8);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
