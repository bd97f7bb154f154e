package org.carevisor.agent.vm;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.protocol.VmSpec;
import org.carevisor.qemu.QemuCommandLine;
import org.carevisor.qemu.QemuException;
import org.carevisor.qemu.QmpClient;
import org.carevisor.qemu.QmpException;

/**
 * Starts the QEMU process of one VM and waits for its monitor: checks the disks, builds the argv, prepares
 * the VM's files and runs QEMU under the exit-status wrapper in its own session (so it outlives the agent).
 * Stateless apart from the VM's files; thread-safe.
 */
final class QemuLauncher {
    private static final Duration START_LIMIT = Duration.ofSeconds(20);

    private final String vmId;
    private final VmFiles files;
    private final VmHost host;

    QemuLauncher(String vmId, VmFiles files, VmHost host) {
        this.vmId = vmId;
        this.files = files;
        this.host = host;
    }

    /**
     * Starts QEMU for {@code spec} (as a paused migration destination with {@code incoming}); returns the
     * wrapper process. Nothing runs and no tap device is left when this throws.
     */
    Process launch(VmSpec spec, boolean incoming) {
        checkDisks(spec);
        List<String> argv;
        try {
            files.paths().checkSocketPaths();
            argv = QemuCommandLine.build(spec, host.qemu(), files.paths(), incoming);
            files.prepareForStart(spec);
        } catch (QemuException e) {
            throw AgentException.badRequest(e.code(), e.getMessage());
        } catch (IOException e) {
            throw new AgentException(500, "io-error", "cannot prepare " + files.directory() + ": " + e.getMessage(), e);
        }
        List<String> command = new ArrayList<>(List.of("setsid", "/bin/sh", host.wrapper().toString(),
                files.paths().exitStatus().toString()));
        command.addAll(argv);
        Taps.create(spec);
        try {
            return new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true)
                    .redirectOutput(files.paths().qemuLog().toFile())
                    .start();
        } catch (IOException e) {
            Taps.remove(spec);
            throw new AgentException(500, "start-failed", "cannot run " + host.qemu().qemuBinary() + ": "
                    + e.getMessage(), e);
        }
    }

    private void checkDisks(VmSpec spec) {
        for (DiskSpec d : spec.disks()) {
            Path file;
            try {
                file = host.qemu().resolveDisk(d.path());
            } catch (QemuException e) {
                throw AgentException.badRequest("invalid-path", e.getMessage());
            }
            if (!Files.isRegularFile(file)) {
                throw AgentException.badRequest("disk-missing", "disk " + d.id() + " of VM " + vmId
                        + " does not exist: " + file);
            }
        }
    }

    /**
     * Waits until QEMU's monitor accepts a connection and returns it ({@code connect} opens it with the
     * caller's listeners). Kills QEMU when the monitor does not answer in time; the error carries the end
     * of QEMU's log, which names the problem (a port in use, a broken image).
     */
    QmpClient awaitMonitor(Process process, Function<Path, QmpClient> connect) {
        long deadline = System.nanoTime() + START_LIMIT.toNanos();
        Path socket = files.paths().qmpSocket();
        while (true) {
            if (!process.isAlive()) {
                throw new AgentException(500, "start-failed", "QEMU exited during start: " + failureText());
            }
            if (Files.exists(socket)) {
                try {
                    return connect.apply(socket);
                } catch (QmpException e) {
                    // the socket exists before QEMU accepts on it; try again
                }
            }
            if (System.nanoTime() > deadline) {
                process.destroyForcibly();
                throw new AgentException(500, "start-failed", "QEMU's monitor did not answer within "
                        + START_LIMIT.toSeconds() + " s; QEMU was killed. " + failureText());
            }
            pause(10);
        }
    }

    private String failureText() {
        pause(50);
        String tail = files.qemuLogTail(3);
        return tail.isBlank() ? "QEMU printed nothing (see " + files.paths().qemuLog() + ")" : tail;
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
