package org.carevisor.agent.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.file.Files;
import java.nio.file.Path;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.DiskCreateRequest;
import org.carevisor.protocol.FileMoveRequest;
import org.carevisor.protocol.ImageInfo;
import org.carevisor.qemu.ImageHeader;
import org.carevisor.qemu.QemuImg;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Disks made from other images with real qemu-img: the source's format must be given (the agent guesses none), a
 * linked disk backs only onto a template base, by a relative path on the shared storage and by an absolute one from
 * local storage, with the base's format recorded in its header.
 */
class DiskCreateFormatsTest {
    @TempDir
    Path dir;

    @Test
    void linkedDisksBackOntoTemplateBasesWithTheirFormatRecorded() throws Exception {
        Path root = dir.resolve("storage");
        Path local = dir.resolve("local");
        StorageService storage = new StorageService(root, local, new QemuImg("qemu-img"));
        storage.createDisk(DiskCreateRequest.blank("templates/t1/disk0.raw", "raw", 8L << 20));

        ImageInfo shared = storage.createDisk(new DiskCreateRequest("vms/a/disk0.qcow2", "qcow2", 16L << 20,
                "templates/t1/disk0.raw", "raw", DiskCreateRequest.Mode.LINKED));
        assertThat(shared.virtualSizeBytes()).isEqualTo(16L << 20);
        ImageHeader.Qcow2 h = ImageHeader.readQcow2(root.resolve("vms/a/disk0.qcow2"), "a");
        assertThat(h.backingFile()).isEqualTo("../../templates/t1/disk0.raw");
        assertThat(h.backingFormat()).isEqualTo("raw");

        storage.createDisk(new DiskCreateRequest("local/vms/b/disk0.qcow2", "qcow2", 0, "templates/t1/disk0.raw",
                "raw", DiskCreateRequest.Mode.LINKED));
        ImageHeader.Qcow2 l = ImageHeader.readQcow2(local.resolve("vms/b/disk0.qcow2"), "b");
        assertThat(l.backingFile()).isEqualTo(root.resolve("templates/t1/disk0.raw").toString());
        assertThat(l.virtualSize()).isEqualTo(8L << 20);

        // a linked disk on anything but a template base, and a source without its format, are refused
        for (String source : new String[] {"vms/a/disk0.qcow2", "local/vms/b/disk0.qcow2"}) {
            AgentException e = catchThrowableOfType(AgentException.class, () -> storage.createDisk(
                    new DiskCreateRequest("vms/c/disk0.qcow2", "qcow2", 0, source, "qcow2",
                            DiskCreateRequest.Mode.LINKED)));
            assertThat(e.code()).as(source).isEqualTo("invalid-backing");
        }
        AgentException noFormat = catchThrowableOfType(AgentException.class, () -> storage.createDisk(
                new DiskCreateRequest("vms/c/disk0.qcow2", "qcow2", 0, "templates/t1/disk0.raw", null,
                        DiskCreateRequest.Mode.COPY)));
        assertThat(noFormat.code()).isEqualTo("format-missing");
        AgentException moveNoFormat = catchThrowableOfType(AgentException.class, () -> storage.move(
                new FileMoveRequest("vms/a/disk0.qcow2", "templates/t2/disk0.qcow2", true, true, null)));
        assertThat(moveNoFormat.code()).isEqualTo("format-missing");
        assertThat(root.resolve("vms/c")).doesNotExist();

        // a linked clone's overlay is renamed only when it stands alone; flattened it may become a base
        AgentException rename = catchThrowableOfType(AgentException.class, () -> storage.move(
                new FileMoveRequest("vms/a/disk0.qcow2", "templates/t2/disk0.qcow2", false, true, "qcow2")));
        assertThat(rename.code()).isEqualTo("disk-image-refused");
        assertThat(rename.getMessage()).contains("backing file");
        storage.move(new FileMoveRequest("vms/a/disk0.qcow2", "templates/t2/disk0.qcow2", true, true, "qcow2"));
        assertThat(ImageHeader.readQcow2(root.resolve("templates/t2/disk0.qcow2"), "t2").backingFile()).isNull();
        assertThat(Files.exists(root.resolve("vms/a/disk0.qcow2"))).isTrue();
    }
}
