package org.carevisor.agent.vm;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.protocol.VmSpec;
import org.carevisor.qemu.ImageChain;
import org.carevisor.qemu.ImageChains;
import org.carevisor.qemu.QemuCommandLine;
import org.carevisor.qemu.QemuException;
import org.carevisor.qemu.QmpClient;
import org.carevisor.qemu.QmpException;

/**
 * Starts the QEMU process of one VM and waits for its monitor: checks the disks and their backing chains
 * ({@link ImageChains}), builds the argv (each chain given node by node), prepares the VM's files and runs QEMU
 * paused under the exit-status wrapper in its own session (so it outlives the agent); once the monitor answers it
 * checks the files QEMU opened ({@link OpenedFiles}) before the guest may run. Stateless apart from the VM's files;
 * thread-safe.
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

    /** A started QEMU: the wrapper process and the checked chain of each disk of the spec, in order. */
    record Started(VmSpec spec, Process process, List<ImageChain> disks) {
    }

    /**
     * Starts QEMU for {@code spec}, paused (as a migration destination with {@code incoming}); returns the
     * wrapper process and the disks' chains for {@link #release}. Nothing runs and no tap device is left when this
     * throws.
     */
    Started launch(VmSpec spec, boolean incoming, List<ImageChain> chains) {
        List<String> argv;
        try {
            files.paths().checkSocketPaths();
            java.util.Map<String, ImageChain> byId = new java.util.HashMap<>();
            for (int i = 0; i < spec.disks().size(); i++) {
                byId.put(spec.disks().get(i).id(), chains.get(i));
            }
            argv = QemuCommandLine.build(spec, host.qemu(), files.paths(), incoming, d -> byId.get(d.id()));
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
            return new Started(spec, new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true)
                    .redirectOutput(files.paths().qemuLog().toFile())
                    .start(), chains);
        } catch (IOException e) {
            Taps.remove(spec);
            throw new AgentException(500, "start-failed", "cannot run " + host.qemu().qemuBinary() + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * The checked chain of every disk, for {@link #launch}; refuses a path outside the storage, a missing disk and a
     * refused chain. Reads the storage: call it without the VM's lock, since a storage that hangs (an unreachable SAN
     * or NFS server) would hold the lock, and with it every status report of the host, until it answers.
     */
    List<ImageChain> checkDisks(VmSpec spec) {
        ImageChains checker = ImageChains.of(host.qemu());
        List<ImageChain> chains = new ArrayList<>();
        for (DiskSpec d : spec.disks()) {
            Path file;
            try {
                file = host.qemu().resolveDisk(d.path());
            } catch (QemuException e) {
                throw AgentException.badRequest("invalid-path", e.getMessage());
            }
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                throw AgentException.badRequest("disk-missing", "disk " + d.id() + " of VM " + vmId
                        + " does not exist: " + file);
            }
            try {
                chains.add(checker.check("disk " + d.id() + " of VM " + vmId, file, d.format()));
            } catch (QemuException e) {
                throw new AgentException(e.code().equals("invalid-path") ? 400 : 422, e.code(), e.getMessage(), e);
            }
        }
        return chains;
    }

    /**
     * Checks the files the started, still paused QEMU opened ({@link OpenedFiles}) and then lets the guest run
     * ({@code run}: {@code cont}) or leaves it paused (a migration destination). On a refusal QEMU is killed before
     * the guest ran, its tap devices are removed, and the refusal is thrown.
     */
    void release(Started started, QmpClient client, boolean run) {
        Long pid = files.readPid().orElse(null);
        try {
            if (pid == null) {
                throw new AgentException(500, "start-failed", "QEMU of VM " + vmId + " wrote no pid file ("
                        + files.paths().pidFile() + "); its opened files cannot be checked");
            }
            OpenedFiles.check(vmId, pid, started.spec().disks(), started.disks(), files.directory());
            if (run) {
                client.execute("cont", null);
            }
        } catch (AgentException | QmpException e) {
            if (pid != null) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
            started.process().destroyForcibly();
            Taps.remove(started.spec());
            throw e instanceof AgentException a ? a
                    : new AgentException(500, "start-failed", "QEMU did not continue: " + e.getMessage(), e);
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
