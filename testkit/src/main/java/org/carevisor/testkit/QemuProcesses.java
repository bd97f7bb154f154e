package org.carevisor.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Finds and kills the QEMU processes a test started, with the agent's wrapper shells around them (their
 * command lines name the test's directory).
 */
public final class QemuProcesses {
    private QemuProcesses() {
    }

    /** PIDs of QEMU processes (and their wrapper shells) whose command line mentions {@code marker}. */
    public static List<Long> find(String marker) {
        List<Long> pids = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.toList()) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8);
                    if (cmd.contains("qemu-system") && cmd.contains(marker)) {
                        pids.add(Long.parseLong(name));
                    }
                } catch (IOException e) {
                    // process ended meanwhile
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return pids;
    }

    /** PIDs of QEMU processes only (not their wrappers) whose command line mentions {@code marker}. */
    public static List<Long> qemus(String marker) {
        List<Long> out = new ArrayList<>();
        for (long pid : find(marker)) {
            try {
                String cmd = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")),
                        StandardCharsets.UTF_8);
                if (cmd.split("\0", 2)[0].contains("qemu-system")) {
                    out.add(pid);
                }
            } catch (IOException e) {
                // ended meanwhile
            }
        }
        return out;
    }

    /** Kills every QEMU whose command line mentions {@code marker}; returns how many there were. */
    public static int killAll(String marker) {
        List<Long> pids = find(marker);
        for (long pid : pids) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        Poll.until(java.time.Duration.ofSeconds(10), "QEMU processes of " + marker + " to exit",
                () -> find(marker).isEmpty());
        return pids.size();
    }
}
