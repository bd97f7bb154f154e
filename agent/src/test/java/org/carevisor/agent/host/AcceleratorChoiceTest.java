package org.carevisor.agent.host;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.carevisor.qemu.AcceleratorProbe;
import org.carevisor.qemu.ProcessRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The automatic choice on this very machine: KVM only when the probe guest really runs under KVM. On the
 * build machines /dev/kvm exists but hangs guests, so the expected answer there is TCG with the reason.
 */
class AcceleratorChoiceTest {
    @TempDir
    Path state;

    @Test
    void autoProvesKvmOrExplainsTcgAndCachesTheResult() throws Exception {
        AcceleratorProbe.Result first = AcceleratorChoice.choose("auto", "qemu-system-x86_64", "test-version", state);
        if (first.kvm()) {
            // Where KVM is chosen, a KVM guest must really finish: check it once more without the cache.
            assertThat(AcceleratorProbe.probe("qemu-system-x86_64", Path.of("/dev/kvm"),
                    java.time.Duration.ofSeconds(10)).kvm()).isTrue();
        } else if (Files.exists(Path.of("/dev/kvm"))) {
            assertThat(first.detail()).containsAnyOf("did not finish", "failed", "not accessible");
        } else {
            assertThat(first.detail()).contains("does not exist");
        }
        assertThat(state.resolve("accel-probe.properties")).exists();

        AcceleratorProbe.Result again = AcceleratorChoice.choose("auto", "qemu-system-x86_64", "test-version", state);
        assertThat(again.accelerator()).isEqualTo(first.accelerator());
        assertThat(again.detail()).contains("probed");

        // The cached result is only valid for the same kernel and QEMU version.
        assertThat(Files.readString(state.resolve("accel-probe.properties")))
                .contains(Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip(), "test-version");
    }

    @Test
    void configuredAcceleratorIsNotProbed() {
        assertThat(AcceleratorChoice.choose("tcg", "no-such-qemu", "x", state).detail()).contains("--accel tcg");
        assertThat(AcceleratorChoice.choose("kvm", "no-such-qemu", "x", state).accelerator()).isEqualTo("kvm");
        assertThat(state.resolve("accel-probe.properties")).doesNotExist();
    }

    @Test
    void noLeftoverProbeProcesses() {
        ProcessRunner.Result ps = ProcessRunner.run(List.of("pgrep", "-f", "carevisor-kvm-probe"), java.time.Duration.ofSeconds(5));
        assertThat(ps.stdout()).isBlank();
    }
}
