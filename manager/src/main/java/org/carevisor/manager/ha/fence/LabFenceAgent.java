package org.carevisor.manager.ha.fence;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The lab's fence agent: a lab host is a network namespace, and "power off" kills every process in it
 * (the agent and its QEMU processes) with SIGKILL, then confirms that none is left. Needs root.
 */
public final class LabFenceAgent implements FenceAgent {
    private final String namespace;

    public LabFenceAgent(String namespace) {
        if (!namespace.matches("[A-Za-z0-9_.-]{1,64}")) {
            throw new IllegalArgumentException("bad namespace name: " + namespace);
        }
        this.namespace = namespace;
    }

    @Override
    public String describe() {
        return "lab " + namespace;
    }

    @Override
    public Result powerOff(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            List<String> pids = pids();
            int killed = 0;
            while (!pids.isEmpty()) {
                // all frozen first, as a real power-off stops them at once: an agent must not see its QEMU end
                stopAll(pids);
                for (String pid : pids) {
                    ProcessHandle.of(Long.parseLong(pid)).ifPresent(p -> p.destroyForcibly());
                    killed++;
                }
                if (System.nanoTime() > deadline) {
                    return Result.failed("processes still running in namespace " + namespace + ": " + pids);
                }
                Thread.sleep(100);
                pids = pids();
            }
            return Result.off("no process left in namespace " + namespace + " (" + killed + " killed)");
        } catch (IOException e) {
            return Result.failed("cannot list the processes of namespace " + namespace + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Result.failed("interrupted");
        }
    }

    private static void stopAll(List<String> pids) throws IOException, InterruptedException {
        List<String> cmd = new java.util.ArrayList<>(List.of("kill", "-STOP"));
        cmd.addAll(pids);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes(); // a process that ended meanwhile is no error here
        p.waitFor(5, TimeUnit.SECONDS);
    }

        private List<String> pids() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("ip", "netns", "pids", namespace).redirectErrorStream(true).start();
        if (!p.waitFor(5, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("ip netns pids did not answer");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (p.exitValue() != 0) {
            throw new IOException(out);
        }
        return out.isEmpty() ? List.of() : List.of(out.split("\\s+"));
    }
}
