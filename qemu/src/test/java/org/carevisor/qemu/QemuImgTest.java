package org.carevisor.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QemuImgTest {
    @TempDir
    Path dir;
    private final QemuImg img = new QemuImg("qemu-img");

    @Test
    void createOverlayConvertResizeInfo() {
        Path base = dir.resolve("base.qcow2");
        img.create(base, "qcow2", 64L << 20, null, null);
        QemuImg.Info info = img.info(base);
        assertThat(info.format()).isEqualTo("qcow2");
        assertThat(info.virtualSize()).isEqualTo(64L << 20);
        assertThat(info.backingFile()).isNull();

        Path overlay = dir.resolve("overlay.qcow2");
        img.create(overlay, "qcow2", 0, base, "qcow2");
        assertThat(img.info(overlay).backingFile()).isEqualTo(base.toString());
        assertThat(img.info(overlay).virtualSize()).isEqualTo(64L << 20);

        Path copy = dir.resolve("copy.qcow2");
        img.convert(overlay, copy, "qcow2");
        assertThat(img.info(copy).backingFile()).isNull();

        img.resize(copy, "qcow2", 128L << 20);
        assertThat(img.info(copy).virtualSize()).isEqualTo(128L << 20);
    }

    @Test
    void internalSnapshotsCreateApplyDelete() {
        Path disk = dir.resolve("snap.qcow2");
        img.create(disk, "qcow2", 16L << 20, null, null);
        img.snapshot(disk, QemuImg.SnapshotOp.CREATE, "first");
        img.snapshot(disk, QemuImg.SnapshotOp.CREATE, "second");
        assertThat(img.snapshotTags(disk)).containsExactly("first", "second");
        img.snapshot(disk, QemuImg.SnapshotOp.APPLY, "first");
        img.snapshot(disk, QemuImg.SnapshotOp.DELETE, "first");
        assertThat(img.snapshotTags(disk)).containsExactly("second");
        assertThatThrownBy(() -> img.snapshot(disk, QemuImg.SnapshotOp.APPLY, "first"))
                .isInstanceOf(QemuException.class).hasMessageContaining("first");
    }

    @Test
    void errorsCarryQemuImgsMessage() {
        assertThatThrownBy(() -> img.info(dir.resolve("missing.qcow2")))
                .isInstanceOf(QemuException.class)
                .hasMessageContaining("missing.qcow2");
    }
}
