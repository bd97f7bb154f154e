package org.carevisor.agent.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Properties;
import org.carevisor.qemu.AcceleratorProbe;

/**
 * Chooses the accelerator: the configured one, or (auto) the result of {@link AcceleratorProbe}. A probe
 * result is cached in the state directory for the same kernel and QEMU version, because a failing probe
 * costs its full time limit.
 */
public final class AcceleratorChoice {
    static final Duration PROBE_LIMIT = Duration.ofSeconds(6);

    private AcceleratorChoice() {
    }

    public static AcceleratorProbe.Result choose(String configured, String qemuBinary, String qemuVersion,
                                                 Path stateDir) {
        if (configured.equals("tcg")) {
            return new AcceleratorProbe.Result("tcg", "TCG software emulation chosen by configuration (--accel tcg)");
        }
        if (configured.equals("kvm")) {
            return new AcceleratorProbe.Result("kvm", "KVM chosen by configuration (--accel kvm), not probed");
        }
        Path kvm = Path.of("/dev/kvm");
        String key = kernelRelease() + "|" + qemuVersion + "|" + Files.exists(kvm);
        Path cache = stateDir.resolve("accel-probe.properties");
        Properties p = new Properties();
        if (Files.exists(cache)) {
            try (var in = Files.newBufferedReader(cache, StandardCharsets.UTF_8)) {
                p.load(in);
                if (key.equals(p.getProperty("key"))) {
                    return new AcceleratorProbe.Result(p.getProperty("accelerator"), p.getProperty("detail")
                            + " (probed " + p.getProperty("probedAt") + ")");
                }
            } catch (IOException | RuntimeException e) {
                // probe again
            }
        }
        AcceleratorProbe.Result r = AcceleratorProbe.probe(qemuBinary, kvm, PROBE_LIMIT);
        p.setProperty("key", key);
        p.setProperty("accelerator", r.accelerator());
        p.setProperty("detail", r.detail());
        p.setProperty("probedAt", Instant.now().toString());
        try (var out = Files.newBufferedWriter(cache, StandardCharsets.UTF_8)) {
            p.store(out, "KVM probe result; delete this file to probe again");
        } catch (IOException e) {
            // not cached; probe next time
        }
        return r;
    }

    private static String kernelRelease() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
        } catch (IOException e) {
            return System.getProperty("os.version");
        }
    }
}
