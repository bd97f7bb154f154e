package org.carevisor.itest.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.carevisor.testkit.LabNetwork;
import org.carevisor.testkit.QemuProcesses;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The README and the operations guide, run as a new user would follow them: every shell command in order, on a
 * fresh {@code var/} (real manager, agents, guests and lab), each checked for its exit code and key words by the
 * expectations kept beside the document ({@code README.md.expect}, {@code docs/operations.md.expect}). A step that
 * fails names the document, section, line and command. Afterwards every process the commands started is stopped
 * and the lab's network removed.
 */
class DocumentationIT {
    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();

    @Test
    void readmeWorksAsWritten() throws Exception {
        follow("README.md", "readme");
    }

    @Test
    void operationsGuideWorksAsWritten() throws Exception {
        follow("docs/operations.md", "operations");
    }

    private static void follow(String document, String name) throws Exception {
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(new java.net.InetSocketAddress("127.0.0.1", 7700), 500);
            throw new AssertionError("something listens on 127.0.0.1:7700, the port the documents' commands use:"
                    + " stop your own Carevisor first (./carevisor down), then run the tests again");
        } catch (java.io.IOException free) {
            // nothing there: the documents can start Carevisor as they say
        }
        Path runDir = Path.of("target", "docs-run", name).toAbsolutePath();
        DocRunner runner = new DocRunner(REPO, document, runDir, LabNetwork.available());
        DocRunner.Outcome outcome;
        try {
            outcome = runner.run();
        } finally {
            stopEverything(runner.sandbox());
        }
        assertThat(outcome.ran()).as("commands of " + document + " that ran").isPositive();
        Assumptions.assumeTrue(outcome.stoppedBecause() == null, () -> document + ": ran " + outcome.ran()
                + " commands, then stopped: " + outcome.stoppedBecause());
    }

    /** Stops what the document's commands started: managers and agents, their guests, and a lab's network. */
    static void stopEverything(Path sandbox) throws IOException, InterruptedException {
        if (!Files.isDirectory(sandbox)) {
            return;
        }
        Path var = sandbox.resolve("var");
        for (Path v : List.of(var.resolve("lab"), var)) {
            if (Files.exists(v.resolve("run/manager.pid")) || hasAgentPid(v)) {
                new ProcessBuilder("./carevisor", "down", "--var", v.toString(), "--keep-vms").directory(
                        sandbox.toFile()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(
                        sandbox.resolveSibling("shell").resolve("cleanup.log").toFile())).start().waitFor();
            }
        }
        String marker = sandbox.toString();
        ProcessHandle.allProcesses().filter(p -> p.info().commandLine().map(c -> c.contains(marker)).orElse(false))
                .forEach(ProcessHandle::destroyForcibly);
        QemuProcesses.killAll(marker);
        Path labEnv = var.resolve("lab/run/lab.env");
        if (Files.exists(labEnv)) {
            String index = Files.readAllLines(labEnv, StandardCharsets.UTF_8).stream()
                    .filter(l -> l.startsWith("LAB_INDEX=")).map(l -> l.substring(10)).findFirst().orElse(null);
            if (index != null && index.matches("[0-9]{1,2}")) {
                new ProcessBuilder(REPO.resolve("scripts/lab-net.sh").toString(), "down", index).inheritIO().start()
                        .waitFor();
            }
        }
        assertThat(QemuProcesses.find(marker)).as("QEMU processes left behind by " + sandbox).isEmpty();
    }

    private static boolean hasAgentPid(Path var) throws IOException {
        if (!Files.isDirectory(var.resolve("run"))) {
            return false;
        }
        try (var files = Files.list(var.resolve("run"))) {
            return files.anyMatch(f -> f.getFileName().toString().matches("agent.*\\.pid"));
        }
    }
}
