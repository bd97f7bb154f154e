package org.carevisor.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's own header reader against images made by the real qemu-img: every format qemu-img can write is
 * recognised by its first bytes, and a qcow2 header's backing file, backing format, external data file and
 * encryption are read as qemu-img wrote them.
 */
class ImageHeaderTest {
    @TempDir
    Path dir;

    @Test
    void everyFormatQemuImgWritesIsRecognisedByItsFirstBytes() throws Exception {
        for (String format : List.of("qcow2", "qcow", "qed", "vmdk", "vdi", "vpc", "vhdx", "parallels")) {
            Path file = dir.resolve("x." + format);
            qemuImg("create", "-q", "-f", format, file.toString(), "1M");
            assertThat(ImageHeader.lookalike(ImageHeader.head(file))).as(format).isEqualTo(format);
        }
        // a LUKS volume begins with its magic and version; qemu-img's own LUKS creation times PBKDF2 on the thread's
        // CPU clock and fails now and then on a loaded machine ("Unable to get accurate CPU usage"), so the header
        // is written here as the format defines it
        Path luks = dir.resolve("x.luks");
        byte[] luksHead = new byte[4096];
        System.arraycopy(new byte[] {'L', 'U', 'K', 'S', (byte) 0xba, (byte) 0xbe, 0, 1}, 0, luksHead, 0, 8);
        java.nio.file.Files.write(luks, luksHead);
        assertThat(ImageHeader.lookalike(ImageHeader.head(luks))).isEqualTo("luks");
        Path raw = dir.resolve("x.raw");
        qemuImg("create", "-q", "-f", "raw", raw.toString(), "1M");
        assertThat(ImageHeader.lookalike(ImageHeader.head(raw))).isNull();
    }

    @Test
    void vmdkTextDescriptorsAreRecognisedAsQemuProbesThem() {
        String flat = "RW 2048 FLAT \"/etc/shadow\" 0\n";
        assertThat(ImageHeader.lookalike(bytes("# Disk DescriptorFile\nversion=1\n" + flat))).isEqualTo("vmdk");
        assertThat(ImageHeader.lookalike(bytes("version=1\r\n" + flat))).isEqualTo("vmdk");
        assertThat(ImageHeader.lookalike(bytes("#x\n   \n#y\n \r\nversion=3\n"))).isEqualTo("vmdk");
        assertThat(ImageHeader.lookalike(bytes("#" + "x".repeat(1500) + "\nversion=2\n"))).isEqualTo("vmdk");
        // QEMU's probe gives up on anything else before version=, so these are raw to it too
        assertThat(ImageHeader.lookalike(bytes("\nversion=1\n"))).isNull();
        assertThat(ImageHeader.lookalike(bytes("# Disk DescriptorFile\nCID=1\nversion=1\n"))).isNull();
        assertThat(ImageHeader.lookalike(bytes("version=4\n"))).isNull();
        assertThat(ImageHeader.lookalike(bytes("hello world"))).isNull();
        assertThat(ImageHeader.lookalike(new byte[0])).isNull();
    }

    @Test
    void formatsQemuImgCannotWriteAreRecognisedByTheirMagic() {
        assertThat(ImageHeader.lookalike(bytes("Bochs Virtual HD Image\0\0\0\0\0\0\0\0\0\0Redolog"))).isEqualTo("bochs");
        assertThat(ImageHeader.lookalike(bytes("#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0"))).isEqualTo("cloop");
        assertThat(ImageHeader.lookalike(bytes("COWD\0\0\0\1"))).isEqualTo("vmdk");
    }

    @Test
    void qcow2HeaderFieldsAreReadAsQemuImgWroteThem() throws Exception {
        Path base = dir.resolve("base.qcow2");
        qemuImg("create", "-q", "-f", "qcow2", base.toString(), "1M");
        ImageHeader.Qcow2 plain = ImageHeader.readQcow2(base, "base");
        assertThat(plain.backingFile()).isNull();
        assertThat(plain.version()).isEqualTo(3);
        assertThat(plain.virtualSize()).isEqualTo(1L << 20);

        Path overlay = dir.resolve("overlay.qcow2");
        qemuImg("create", "-q", "-f", "qcow2", "-u", "-b", "json:{\"driver\":\"file\",\"filename\":\"/etc/passwd\"}",
                "-F", "raw", overlay.toString(), "1M");
        ImageHeader.Qcow2 o = ImageHeader.readQcow2(overlay, "overlay");
        assertThat(o.backingFile()).isEqualTo("json:{\"driver\":\"file\",\"filename\":\"/etc/passwd\"}");
        assertThat(o.backingFormat()).isEqualTo("raw");

        Path v2 = dir.resolve("v2.qcow2");
        qemuImg("create", "-q", "-f", "qcow2", "-o", "compat=0.10", "-u", "-b", "../templates/b.qcow2", "-F", "qcow2",
                v2.toString(), "1M");
        ImageHeader.Qcow2 old = ImageHeader.readQcow2(v2, "v2");
        assertThat(old.version()).isEqualTo(2);
        assertThat(old.backingFile()).isEqualTo("../templates/b.qcow2");
        assertThat(old.backingFormat()).isEqualTo("qcow2");

        Path withData = dir.resolve("data.qcow2");
        qemuImg("create", "-q", "-f", "qcow2", "-o", "data_file=" + dir.resolve("data.raw") + ",data_file_raw=on",
                withData.toString(), "1M");
        ImageHeader.Qcow2 d = ImageHeader.readQcow2(withData, "data");
        assertThat(d.externalDataFile()).isTrue();
        assertThat(d.dataFile()).isEqualTo(dir.resolve("data.raw").toString());

        Path encrypted = dir.resolve("enc.qcow2");
        qemuImg("create", "-q", "-f", "qcow2", encrypted.toString(), "1M");
        markEncrypted(encrypted);
        assertThat(ImageHeader.readQcow2(encrypted, "enc").encrypted()).isTrue();
    }

    @Test
    void aFileWithoutAQcow2HeaderIsRefused() throws Exception {
        Path raw = dir.resolve("x.raw");
        Files.write(raw, new byte[4096]);
        assertThatThrownBy(() -> ImageHeader.readQcow2(raw, "disk disk0")).isInstanceOf(QemuException.class)
                .hasMessageContaining("disk disk0").hasMessageContaining("no qcow2 header")
                .extracting(e -> ((QemuException) e).code()).isEqualTo("disk-image-refused");
        Path shortFile = dir.resolve("short");
        Files.write(shortFile, new byte[10]);
        assertThatThrownBy(() -> ImageHeader.readQcow2(shortFile, "s")).hasMessageContaining("too short");
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    static void qemuImg(String... args) {
        List<String> argv = new ArrayList<>(List.of("qemu-img"));
        argv.addAll(List.of(args));
        ProcessRunner.Result r = ProcessRunner.run(argv, Duration.ofSeconds(60));
        if (!r.ok()) {
            throw new AssertionError(String.join(" ", argv) + ": " + r.stderr());
        }
    }

    /**
     * Sets a qcow2 header's crypt_method (bytes 32-35) to 2, LUKS, as an encrypted image has it (qemu-img's own
     * encrypted creation times PBKDF2 on the CPU clock and fails now and then on a loaded machine).
     */
    static void markEncrypted(Path qcow2) throws java.io.IOException {
        try (var ch = java.nio.channels.FileChannel.open(qcow2, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {0, 0, 0, 2}), 32);
        }
    }
}
