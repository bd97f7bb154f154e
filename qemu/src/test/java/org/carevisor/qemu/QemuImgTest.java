package org.carevisor.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QemuImgTest {
    @TempDir
    Path dir;
    private final QemuImg img = new QemuImg("qemu-img");

    @Test
    void createOverlayConvertResizeInfo() throws Exception {
        Path base = dir.resolve("base.qcow2");
        img.create(base, "qcow2", 64L << 20);
        ImageChain baseChain = ImageChain.single(base, "qcow2");
        QemuImg.Info info = img.info(baseChain);
        assertThat(info.format()).isEqualTo("qcow2");
        assertThat(info.virtualSize()).isEqualTo(64L << 20);
        assertThat(info.backingFile()).isNull();
        ProcessRunner.run(List.of("qemu-io", "-c", "write -P 0x41 0 64k", base.toString()), java.time.Duration.ofSeconds(30));

        Path overlay = dir.resolve("overlay.qcow2");
        img.createOverlay(overlay, "base.qcow2", baseChain, 64L << 20);
        ImageChain overlayChain = new ImageChain(List.of(new ImageChain.Link(overlay, "qcow2", null),
                new ImageChain.Link(base, "qcow2", null)));
        assertThat(img.info(overlayChain).backingFile()).isEqualTo("base.qcow2");
        assertThat(img.info(overlayChain).virtualSize()).isEqualTo(64L << 20);

        Path copy = dir.resolve("copy.raw");
        img.convert(overlayChain, copy, "raw");
        ImageChain copyChain = ImageChain.single(copy, "raw");
        assertThat(img.info(copyChain).backingFile()).isNull();
        byte[] start = new byte[4];
        try (var in = Files.newInputStream(copy)) {
            assertThat(in.read(start)).isEqualTo(4);
        }
        assertThat(new String(start, StandardCharsets.US_ASCII)).as("the backing file's data was flattened in")
                .isEqualTo("AAAA");

        img.resize(copyChain, 128L << 20);
        assertThat(img.info(copyChain).virtualSize()).isEqualTo(128L << 20);
    }

    @Test
    void aRawImageIsReadAsRawWhatEverItHolds() throws Exception {
        Path host = dir.resolve("host-secret.txt");
        Files.writeString(host, "CANARY-host-file-0123456789\n".repeat(100));
        Path disguised = dir.resolve("disguised.raw");
        img.create(disguised, "raw", 4L << 20);
        Path qcow = dir.resolve("header.qcow2");
        ProcessRunner.run(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", host.toString(), "-F", "raw",
                qcow.toString(), "4M"), java.time.Duration.ofSeconds(30));
        byte[] header = Files.readAllBytes(qcow);
        try (var ch = java.nio.channels.FileChannel.open(disguised, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(header), 0);
        }
        // the attack is real: qemu-img left to probe takes the file for qcow2 and reads the host file
        Path probed = dir.resolve("probed.raw");
        assertThat(ProcessRunner.run(List.of("qemu-img", "convert", "-O", "raw", disguised.toString(),
                probed.toString()), java.time.Duration.ofSeconds(30)).ok()).isTrue();
        assertThat(Files.readString(probed, StandardCharsets.ISO_8859_1)).contains("CANARY-host-file");

        ImageChain raw = ImageChain.single(disguised, "raw");
        assertThat(img.info(raw).format()).isEqualTo("raw");
        assertThat(img.info(raw).backingFile()).isNull();
        Path out = dir.resolve("out.qcow2");
        img.convert(raw, out, "qcow2");
        Path flat = dir.resolve("out.raw");
        img.convert(ImageChain.single(out, "qcow2"), flat, "raw");
        assertThat(Files.readString(flat, StandardCharsets.ISO_8859_1)).doesNotContain("CANARY-host-file");
        assertThat(Files.size(flat)).isEqualTo(4L << 20);
    }

    @Test
    void internalSnapshotsCreateApplyDelete() {
        Path disk = dir.resolve("snap.qcow2");
        img.create(disk, "qcow2", 16L << 20);
        ImageChain chain = ImageChain.single(disk, "qcow2");
        img.snapshot(chain, QemuImg.SnapshotOp.CREATE, "first");
        img.snapshot(chain, QemuImg.SnapshotOp.CREATE, "second");
        assertThat(img.snapshotTags(chain)).containsExactly("first", "second");
        img.snapshot(chain, QemuImg.SnapshotOp.APPLY, "first");
        img.snapshot(chain, QemuImg.SnapshotOp.DELETE, "first");
        assertThat(img.snapshotTags(chain)).containsExactly("second");
        assertThatThrownBy(() -> img.snapshot(chain, QemuImg.SnapshotOp.APPLY, "first"))
                .isInstanceOf(QemuException.class).hasMessageContaining("first");
    }

    @Test
    void errorsCarryQemuImgsMessage() {
        assertThatThrownBy(() -> img.info(ImageChain.single(dir.resolve("missing.qcow2"), "qcow2")))
                .isInstanceOf(QemuException.class)
                .hasMessageContaining("missing.qcow2");
    }
}
