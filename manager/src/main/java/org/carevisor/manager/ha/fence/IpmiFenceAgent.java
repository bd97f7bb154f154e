package org.carevisor.manager.ha.fence;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Fencing through a BMC with {@code ipmitool} (IPMI v2.0, lanplus): {@code chassis power off}, then
 * {@code chassis power status} until it says off. The password goes to ipmitool in the environment
 * ({@code -E}, variable {@code IPMI_PASSWORD}), never on the command line where {@code ps} shows it.
 */
public final class IpmiFenceAgent implements FenceAgent {
    private final String ipmitool;
    private final String address;
    private final String user;
    private final String password;

    public IpmiFenceAgent(String ipmitool, String address, String user, String password) {
        this.ipmitool = ipmitool == null ? "ipmitool" : ipmitool;
        this.address = address;
        this.user = user;
        this.password = password;
    }

    @Override
    public String describe() {
        return "ipmi " + address;
    }

    /** The argv of one ipmitool call (tested; no password in it). */
    List<String> argv(String... command) {
        List<String> argv = new ArrayList<>(List.of(ipmitool, "-I", "lanplus", "-H", address, "-U", user, "-E",
                "-N", "2", "-R", "2"));
        argv.addAll(List.of(command));
        return argv;
    }

    @Override
    public Result powerOff(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String out;
        try {
            out = run(argv("chassis", "power", "off"), deadline);
        } catch (IOException e) {
            return Result.failed("ipmitool power off at " + address + " failed: " + e.getMessage());
        }
        String status = out;
        while (System.nanoTime() < deadline) {
            try {
                status = run(argv("chassis", "power", "status"), deadline);
                if (status.toLowerCase(java.util.Locale.ROOT).contains("power is off")) {
                    return Result.off("BMC " + address + " reports: " + status.strip());
                }
                Thread.sleep(1000);
            } catch (IOException e) {
                status = e.getMessage();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return Result.failed("BMC " + address + " did not confirm power off within " + timeout.toSeconds() + " s (last: "
                + status.strip() + ")");
    }

    private String run(List<String> argv, long deadline) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
        pb.environment().put("IPMI_PASSWORD", password == null ? "" : password);
        Process p = pb.start();
        try {
            long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
            if (!p.waitFor(left, TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IOException("ipmitool did not answer in time");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException("ipmitool exit " + p.exitValue() + ": " + out.strip());
        }
        return out;
    }
}
