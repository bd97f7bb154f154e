package org.carevisor.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AcceleratorProbeTest {
    @TempDir
    Path dir;

    @Test
    void probeGuestReallyExitsWithTheExpectedCodeUnderTcg() throws Exception {
        // Proves the probe program itself is right, so a KVM failure means KVM, not the probe.
        Path image = dir.resolve("probe.img");
        byte[] disk = new byte[1024 * 1024];
        System.arraycopy(AcceleratorProbe.bootSector(), 0, disk, 0, 512);
        Files.write(image, disk);
        ProcessRunner.Result r = ProcessRunner.run(List.of("qemu-system-x86_64", "-accel", "tcg", "-machine", "pc",
                "-nodefaults", "-no-user-config", "-display", "none", "-m", "16", "-device",
                "isa-debug-exit,iobase=0xf4,iosize=0x04", "-drive", "file=" + image + ",format=raw,if=ide"),
                Duration.ofSeconds(30));
        assertThat(r.exitCode()).isEqualTo(AcceleratorProbe.SUCCESS_EXIT);
    }

    @Test
    void missingKvmDeviceMeansTcgAtOnce() {
        AcceleratorProbe.Result r = AcceleratorProbe.probe("qemu-system-x86_64", dir.resolve("no-kvm"),
                Duration.ofSeconds(5));
        assertThat(r.accelerator()).isEqualTo("tcg");
        assertThat(r.detail()).contains("does not exist");
    }

    @Test
    void bootSectorIsBootable() {
        byte[] s = AcceleratorProbe.bootSector();
        assertThat(s).hasSize(512);
        assertThat(s[510]).isEqualTo((byte) 0x55);
        assertThat(s[511]).isEqualTo((byte) 0xAA);
    }
}
