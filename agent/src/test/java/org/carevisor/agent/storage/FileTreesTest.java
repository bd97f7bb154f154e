package org.carevisor.agent.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileTreesTest {
    @TempDir
    Path tmp;

    @Test
    void deletesATreeWithoutFollowingItsSymbolicLinks() throws Exception {
        Path outside = Files.writeString(tmp.resolve("outside"), "keep");
        Path dir = Files.createDirectories(tmp.resolve("tree/a/b"));
        Files.writeString(dir.resolve("f"), "x");
        Files.createSymbolicLink(tmp.resolve("tree/link"), outside);
        Files.createSymbolicLink(tmp.resolve("tree/dirlink"), tmp);
        FileTrees.delete(tmp.resolve("tree"));
        assertThat(tmp.resolve("tree")).doesNotExist();
        assertThat(outside).hasContent("keep");
        FileTrees.delete(tmp.resolve("tree")); // missing is fine
    }

    /** The HA watchdog removes a keeper lease while the agent clears the stock: that entry is simply gone. */
    @Test
    void anEntryAnotherProcessRemovesMeanwhileIsNoError() throws Exception {
        for (int round = 0; round < 20; round++) {
            Path dir = Files.createDirectories(tmp.resolve("stock" + round));
            for (int i = 0; i < 500; i++) {
                Files.writeString(dir.resolve(i + ".lease"), "lease");
            }
            CompletableFuture<Void> other = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < 500; i++) {
                    dir.resolve(i + ".lease").toFile().delete();
                }
            });
            FileTrees.delete(dir);
            other.join();
            assertThat(dir).doesNotExist();
        }
    }
}
