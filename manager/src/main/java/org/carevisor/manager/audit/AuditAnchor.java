package org.carevisor.manager.audit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.carevisor.manager.audit.AuditCheckpoints.Checkpoint;

/**
 * The anchor file: every chained checkpoint the manager signs is also appended to this file outside the data
 * directory and the database, one JSON line each (mode 0600; the file is only ever opened for appending, so it
 * may carry {@code chattr +a} or live on another volume). Its last line is the newest checkpoint the database
 * must still hold: a trail cut back behind it, or a checkpoint missing from the database, is damage. Lines are
 * signed checkpoints, so a forged line does not verify. Thread-safe.
 */
public final class AuditAnchor {
    /** How a line starts its {@code type} field (also the syslog message's tag). */
    public static final String TYPE = "carevisor-audit-checkpoint";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int TAIL_BYTES = 64 * 1024;

    /** One anchored checkpoint with the trail it belongs to. */
    public record Entry(String trail, Checkpoint checkpoint) {
    }

    private final Path file;

    public AuditAnchor(Path file) {
        this.file = file.toAbsolutePath().normalize();
    }

    public Path file() {
        return file;
    }

    /** The JSON line of a checkpoint (without the newline), as written here and sent to syslog. */
    public static String line(String trail, Checkpoint c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", TYPE);
        m.put("trail", trail);
        m.put("seq", c.seq());
        m.put("hash", c.hash());
        m.put("signedAt", c.signedAt().toString());
        m.put("prev", c.prevCheckpoint());
        m.put("checkpoint", c.checkpointHash());
        m.put("keyId", c.keyId());
        m.put("signature", c.signature());
        try {
            return JSON.writeValueAsString(m);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses a line; throws IllegalArgumentException naming what is wrong. */
    public static Entry parse(String line) {
        JsonNode n;
        try {
            n = JSON.readTree(line);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("not JSON: " + e.getOriginalMessage());
        }
        if (n == null || !TYPE.equals(n.path("type").asText())) {
            throw new IllegalArgumentException("not a " + TYPE + " line");
        }
        for (String f : new String[] {"trail", "seq", "hash", "signedAt", "prev", "checkpoint", "keyId", "signature"}) {
            if (!n.hasNonNull(f)) {
                throw new IllegalArgumentException("field " + f + " is missing");
            }
        }
        Instant at;
        try {
            at = Instant.parse(n.path("signedAt").asText());
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("signedAt is not a time");
        }
        return new Entry(n.path("trail").asText(), new Checkpoint(n.path("seq").asLong(), n.path("hash").asText(), at,
                n.path("signature").asText(), null, 2, n.path("prev").asText(), n.path("checkpoint").asText(),
                n.path("keyId").asText()));
    }

    /** Appends a checkpoint and forces it to the disk. Creates the file (0600) and a missing directory (0700). */
    public synchronized void append(String trail, Checkpoint c) throws IOException {
        Path dir = file.getParent();
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
                    "rwx------")));
        }
        byte[] bytes = (line(trail, c) + "\n").getBytes(StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.APPEND,
                StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
                "rw-------")))) {
            if (ch.size() > 0 && !endsWithNewline()) {
                // a line cut short by a crash stays on its own line, skipped by readers
                ch.write(ByteBuffer.wrap(new byte[] {'\n'}));
            }
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
    }

    private boolean endsWithNewline() throws IOException {
        try (FileChannel r = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            return r.size() == 0 || (r.read(b, r.size() - 1) == 1 && b.get(0) == '\n');
        }
    }

    /**
     * The last complete line, or null when the file does not exist or holds none. A last line cut short (no
     * newline: the manager stopped mid-write) is skipped. A complete line that cannot be read throws
     * IllegalArgumentException naming the problem.
     */
    public synchronized Entry last() throws IOException {
        if (!Files.exists(file)) {
            return null;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            int n = (int) Math.min(size, TAIL_BYTES);
            ByteBuffer buf = ByteBuffer.allocate(n);
            ch.position(size - n);
            while (buf.hasRemaining() && ch.read(buf) >= 0) {
                // fill
            }
            String tail = new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
            int end = tail.lastIndexOf('\n');
            if (end < 0) {
                return null;
            }
            int start = tail.lastIndexOf('\n', end - 1) + 1;
            if (start == 0 && size > n) {
                throw new IllegalArgumentException("its last line is longer than " + TAIL_BYTES + " bytes");
            }
            String line = tail.substring(start, end).strip();
            if (line.isEmpty()) {
                throw new IllegalArgumentException("its last line is empty");
            }
            return parse(line);
        }
    }

    public boolean exists() {
        return Files.exists(file);
    }
}
