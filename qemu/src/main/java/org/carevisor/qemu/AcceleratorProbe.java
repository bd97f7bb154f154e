package org.carevisor.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Decides between KVM and TCG by proof, not by the presence of {@code /dev/kvm}: a 512-byte boot sector
 * runs five million loop iterations and then exits QEMU through the {@code isa-debug-exit} device.
 * Only when that guest finishes under KVM within the limit is KVM used. On hosts where {@code /dev/kvm}
 * exists but guests hang (nested virtualization without working acceleration), the probe guest never
 * finishes and TCG is chosen. Thread-safe (stateless).
 */
public final class AcceleratorProbe {
    /** Result of a probe. */
    public record Result(String accelerator, String detail) {
        public boolean kvm() {
            return "kvm".equals(accelerator);
        }
    }

    /** Exit code QEMU returns when the probe guest writes 0x10 to the debug-exit port: (0x10 << 1) | 1. */
    static final int SUCCESS_EXIT = 33;

    private AcceleratorProbe() {
    }

    /** The probe boot sector: loop 5,000,000 times, then {@code out 0xf4, 0x10}, then halt. */
    static byte[] bootSector() {
        byte[] code = {
            0x66, (byte) 0xB9, 0x40, 0x4B, 0x4C, 0x00, // mov ecx, 5000000
            0x66, 0x49,                               // dec ecx
            0x75, (byte) 0xFC,                        // jnz back to dec
            (byte) 0xB0, 0x10,                        // mov al, 0x10
            (byte) 0xE6, (byte) 0xF4,                 // out 0xf4, al
            (byte) 0xF4,                              // hlt
            (byte) 0xEB, (byte) 0xFD                  // jmp back to hlt
        };
        byte[] sector = new byte[512];
        System.arraycopy(code, 0, sector, 0, code.length);
        sector[510] = 0x55;
        sector[511] = (byte) 0xAA;
        return sector;
    }

    /**
     * Probes KVM. Returns TCG at once when {@code /dev/kvm} is missing or not accessible.
     *
     * @param qemuBinary qemu-system-x86_64
     * @param kvmDevice  normally {@code /dev/kvm}
     * @param limit      how long the probe guest may take under KVM
     */
    public static Result probe(String qemuBinary, Path kvmDevice, Duration limit) {
        if (!Files.exists(kvmDevice)) {
            return new Result("tcg", kvmDevice + " does not exist; using TCG software emulation");
        }
        if (!Files.isReadable(kvmDevice) || !Files.isWritable(kvmDevice)) {
            return new Result("tcg", kvmDevice + " is not accessible to this user; using TCG software emulation");
        }
        Path dir = null;
        try {
            dir = Files.createTempDirectory("carevisor-kvm-probe");
            Path image = dir.resolve("probe.img");
            byte[] disk = new byte[1024 * 1024];
            System.arraycopy(bootSector(), 0, disk, 0, 512);
            Files.write(image, disk);
            List<String> argv = List.of(qemuBinary, "-accel", "kvm", "-machine", "pc", "-nodefaults",
                    "-no-user-config", "-display", "none", "-m", "16", "-device",
                    "isa-debug-exit,iobase=0xf4,iosize=0x04", "-drive", "file=" + image + ",format=raw,if=ide");
            ProcessRunner.Result r = ProcessRunner.run(argv, limit);
            if (r.exitCode() == SUCCESS_EXIT) {
                return new Result("kvm", "KVM probe guest finished; using KVM");
            }
            return new Result("tcg", "KVM probe guest failed (exit " + r.exitCode() + ": "
                    + r.stderr().strip() + "); using TCG software emulation");
        } catch (QemuException e) {
            return new Result("tcg", kvmDevice + " exists but a KVM test guest did not finish within "
                    + limit.toSeconds() + " s; using TCG software emulation, which is 10-50x slower");
        } catch (IOException e) {
            return new Result("tcg", "KVM probe could not run (" + e.getMessage() + "); using TCG");
        } finally {
            if (dir != null) {
                try (var files = Files.list(dir)) {
                    for (Path p : files.toList()) {
                        Files.deleteIfExists(p);
                    }
                    Files.deleteIfExists(dir);
                } catch (IOException ignored) {
                    // temp dir cleanup is best effort
                }
            }
        }
    }
}
