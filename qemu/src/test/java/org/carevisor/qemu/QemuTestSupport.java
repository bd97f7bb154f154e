package org.carevisor.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Starts and always stops QEMU processes for the tests of this module. */
final class QemuTestSupport {
    private QemuTestSupport() {
    }

    static void waitForFile(Path file, long millis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (!Files.exists(file)) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError(file + " did not appear within " + millis + " ms");
            }
            Thread.sleep(20);
        }
    }

    static void kill(Process p) throws InterruptedException {
        if (p != null && p.isAlive()) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    static Process start(Path log, String... argv) throws IOException {
        return new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    }
}
