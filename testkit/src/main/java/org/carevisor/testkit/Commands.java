package org.carevisor.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs a system command of a test (mount, ip, kill...) and returns its output; a failure names the command. */
public final class Commands {
    private Commands() {
    }

    /**
     * Runs {@code cmd} with stderr joined to stdout, read while it runs (a long output cannot block it), and returns
     * the output; an exit status other than 0, or no end within {@code limit} (the process is killed), throws.
     */
    public static String run(Duration limit, List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "(output unreadable: " + e.getMessage() + ")";
            }
        });
        try {
            if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " did not end within " + limit.toSeconds() + " s");
            }
            String text = out.get(10, TimeUnit.SECONDS);
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + text.strip());
            }
            return text;
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", cmd), e);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException(String.join(" ", cmd) + ": its output could not be read", e);
        }
    }

    public static String run(Duration limit, String... cmd) throws IOException {
        return run(limit, List.of(cmd));
    }
}
