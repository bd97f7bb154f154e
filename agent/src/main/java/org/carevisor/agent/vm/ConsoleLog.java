package org.carevisor.agent.vm;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Keeps a VM's serial console log ({@code console.log}) bounded while the guest runs. QEMU writes the log
 * itself (chardev {@code logfile=...,logappend=on}, so it opens it with {@code O_APPEND} and keeps it open);
 * the agent checks the size every second and, once it is over {@link #PART_BYTES}, moves the parts on
 * ({@code console.log.1} becomes {@code .2} ...; the oldest of {@link #KEEP_PARTS} is dropped), copies the last
 * {@link #PART_BYTES} of the log into {@code console.log.1} and truncates {@code console.log} to zero. QEMU's
 * next write lands at the new end (offset 0) because of {@code O_APPEND}. On disk a VM's console history is
 * therefore at most {@code (KEEP_PARTS + 1) * PART_BYTES} plus what the guest writes in one second; output
 * written between the copy and the truncation (microseconds) is lost, like logrotate's copytruncate.
 * Thread-safe as long as one thread bounds a given log (the agent's timer).
 */
public final class ConsoleLog {
    /** A log part is at most this large (2 MiB). */
    public static final long PART_BYTES = 2L << 20;
    /** How many old parts are kept beside the live log. */
    public static final int KEEP_PARTS = 3;

    private ConsoleLog() {
    }

    /**
     * Cuts {@code log} back when it is over {@code partBytes}, keeping {@code keep} old parts; returns true
     * when it did.
     */
    public static boolean bound(Path log, long partBytes, int keep) throws IOException {
        if (!Files.isRegularFile(log, LinkOption.NOFOLLOW_LINKS) || Files.size(log) <= partBytes) {
            return false;
        }
        Path dir = log.getParent();
        String name = log.getFileName().toString();
        Files.deleteIfExists(dir.resolve(name + "." + keep));
        for (int i = keep - 1; i >= 1; i--) {
            Path from = dir.resolve(name + "." + i);
            if (Files.exists(from, LinkOption.NOFOLLOW_LINKS)) {
                Files.move(from, dir.resolve(name + "." + (i + 1)), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Path part = dir.resolve(name + ".1");
        Path tmp = dir.resolve(name + ".1.tmp");
        try (FileChannel in = FileChannel.open(log, StandardOpenOption.READ, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS);
             OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.CREATE,
                     StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
            long size = in.size();
            long from = Math.max(0, size - partBytes);
            if (from > 0) {
                out.write(("[carevisor: " + from + " earlier bytes of console output were dropped to keep the log"
                        + " bounded]\n").getBytes(StandardCharsets.UTF_8));
            }
            ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
            long at = from;
            while (at < size) {
                buffer.clear();
                buffer.limit((int) Math.min(buffer.capacity(), size - at));
                int n = in.read(buffer, at);
                if (n <= 0) {
                    break;
                }
                out.write(buffer.array(), 0, n);
                at += n;
            }
            in.truncate(0);
        }
        Files.move(tmp, part, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return true;
    }
}
