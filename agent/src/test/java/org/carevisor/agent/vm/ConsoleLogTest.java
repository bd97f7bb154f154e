package org.carevisor.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The console log stays bounded while its writer keeps it open in append mode, as QEMU does
 * ({@code logappend=on} opens the log with {@code O_APPEND}, which is what {@code APPEND} gives here).
 */
class ConsoleLogTest {
    @TempDir
    Path dir;

    @Test
    void aWriterThatKeepsTheLogOpenContinuesAtTheStartAfterTheCut() throws Exception {
        Path log = dir.resolve("console.log");
        long part = 4096;
        try (FileChannel qemu = FileChannel.open(log, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND)) {
            for (int round = 0; round < 10; round++) {
                write(qemu, ("round " + round + " ").repeat(1000));
                assertThat(ConsoleLog.bound(log, part, 3)).isTrue();
                assertThat(Files.size(log)).isZero();
                write(qemu, "after cut " + round + "\n");
                assertThat(Files.readString(log)).isEqualTo("after cut " + round + "\n");
                assertThat(ConsoleLog.bound(log, part, 3)).isFalse();
            }
        }
        // the newest part holds the end of what was cut, marked where earlier output was dropped
        String newest = Files.readString(dir.resolve("console.log.1"));
        assertThat(newest).startsWith("[carevisor: ").contains("earlier bytes").endsWith("round 9 ");
        assertThat(Files.size(dir.resolve("console.log.1"))).isLessThan(part + 200);
        assertThat(Files.readString(dir.resolve("console.log.2"))).contains("round 8");
        assertThat(Files.readString(dir.resolve("console.log.3"))).contains("round 7");
        assertThat(dir.resolve("console.log.4")).doesNotExist();
        try (var files = Files.list(dir)) {
            assertThat(files.mapToLong(p -> p.toFile().length()).sum()).isLessThan(4 * (part + 200));
        }
    }

    @Test
    void aSmallLogIsLeftAlone() throws Exception {
        Path log = dir.resolve("console.log");
        Files.writeString(log, "boot\n");
        assertThat(ConsoleLog.bound(log, 4096, 3)).isFalse();
        assertThat(ConsoleLog.bound(dir.resolve("missing.log"), 4096, 3)).isFalse();
        assertThat(Files.readString(log)).isEqualTo("boot\n");
    }

    private static void write(FileChannel ch, String s) throws Exception {
        ch.write(ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8)));
    }
}
