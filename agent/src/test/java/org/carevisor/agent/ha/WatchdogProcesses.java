package org.carevisor.agent.ha;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Finds HA watchdog processes in /proc, so that tests can prove they leave none behind. */
public final class WatchdogProcesses {
    private WatchdogProcesses() {
    }

    /**
     * Pids of watchdog scripts whose command line mentions {@code marker} (e.g. a test's directory). A subshell
     * the script forks for a moment (command substitution) has the same command line; it is not another
     * watchdog and is left out (its parent is a watchdog found here).
     */
    public static List<Long> find(Path marker) {
        List<Long> out = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.toList()) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8);
                    if (cmd.contains(Watchdog.SCRIPT_NAME) && cmd.contains(marker.toString())) {
                        out.add(Long.parseLong(name));
                    }
                } catch (IOException e) {
                    // ended meanwhile
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        List<Long> found = List.copyOf(out);
        out.removeIf(pid -> found.contains(parent(pid)));
        return out;
    }

    private static long parent(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            // pid (comm) state ppid ...; comm may contain spaces, so read after the last ')'
            return Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[1]);
        } catch (IOException | RuntimeException e) {
            return -1; // ended meanwhile
        }
    }
}
