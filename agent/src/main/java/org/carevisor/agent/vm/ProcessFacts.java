package org.carevisor.agent.vm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

/** What /proc says about a process, for re-adopting QEMU after an agent restart. */
final class ProcessFacts {
    private ProcessFacts() {
    }

    /** True when {@code pid} is a QEMU process started for {@code vmId} (its argv carries {@code -uuid <vmId>}). */
    static boolean isQemuOf(long pid, String vmId) {
        try {
            String args = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")),
                    StandardCharsets.UTF_8);
            return args.contains("\0-uuid\0" + vmId + "\0");
        } catch (IOException e) {
            return false;
        }
    }

    static Instant startTime(long pid) {
        return ProcessHandle.of(pid).flatMap(h -> h.info().startInstant()).orElse(Instant.now());
    }

    /** The parent of {@code pid} (for QEMU: the exit-status wrapper), or null. */
    static Long parent(long pid) {
        return ProcessHandle.of(pid).flatMap(ProcessHandle::parent).map(ProcessHandle::pid).orElse(null);
    }

    static boolean alive(Long pid) {
        return pid != null && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }
}
