package org.carevisor.agent.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.carevisor.protocol.DiskCreateRequest;
import org.carevisor.protocol.ImageInfo;
import org.carevisor.qemu.ProcessRunner;
import org.carevisor.qemu.QemuImg;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image library decides an operator's file's format from its first bytes, never by qemu-img's probing: qcow2
 * and raw images are offered with the format seen, anything with a backing file, an external data file, another
 * format or a link is not, and the format seen is what a copy is later opened with.
 */
class ImageLibraryTest {
    @TempDir
    Path dir;

    @Test
    void onlyStandAloneQcow2AndRawImagesAreOfferedWithTheFormatSeen() throws Exception {
        Path root = dir.resolve("storage");
        StorageService storage = new StorageService(root, null, new QemuImg("qemu-img"));
        Path images = root.resolve("images");
        Path host = dir.resolve("secret");
        Files.writeString(host, "CANARY");
        qemuImg("create", "-q", "-f", "qcow2", images.resolve("good.qcow2").toString(), "1M");
        qemuImg("create", "-q", "-f", "raw", images.resolve("plain.img").toString(), "1M");
        qemuImg("create", "-q", "-f", "raw", images.resolve("named-wrong.qcow2").toString(), "1M");
        qemuImg("create", "-q", "-f", "qcow2", images.resolve("really-qcow2.raw").toString(), "1M");
        qemuImg("create", "-q", "-f", "qcow2", "-u", "-b", host.toString(), "-F", "raw",
                images.resolve("backed.qcow2").toString(), "1M");
        qemuImg("create", "-q", "-f", "qcow2", "-o", "data_file=" + host + ",data_file_raw=on",
                images.resolve("data-file.qcow2").toString(), "1M");
        qemuImg("create", "-q", "-f", "vmdk", images.resolve("binary.qcow2").toString(), "1M");
        Files.writeString(images.resolve("descriptor.img"), "# Disk DescriptorFile\nversion=1\nRW 2048 FLAT \""
                + host + "\" 0\n");
        qemuImg("create", "-q", "-f", "vpc", images.resolve("vhd.raw").toString(), "1M");
        Files.createSymbolicLink(images.resolve("link.qcow2"), images.resolve("good.qcow2"));

        List<ImageInfo> offered = storage.images();
        assertThat(offered).extracting(i -> i.path() + "=" + i.format()).containsExactly(
                "images/good.qcow2=qcow2", "images/named-wrong.qcow2=raw", "images/plain.img=raw",
                "images/really-qcow2.raw=qcow2");
        assertThat(offered).allSatisfy(i -> assertThat(i.virtualSizeBytes()).isEqualTo(1L << 20));
        // asked again (cached) the answer is the same, and a file that changes is judged again
        assertThat(storage.images()).hasSize(4);
        Files.delete(images.resolve("backed.qcow2"));
        qemuImg("create", "-q", "-f", "qcow2", images.resolve("backed.qcow2").toString(), "1M");
        assertThat(storage.images()).extracting(ImageInfo::path).contains("images/backed.qcow2");

        // a copy of an offered image is opened with the format the library saw
        storage.createDisk(new DiskCreateRequest("vms/a/disk0.qcow2", "qcow2", 0, "images/really-qcow2.raw", "qcow2",
                DiskCreateRequest.Mode.COPY));
        assertThat(root.resolve("vms/a/disk0.qcow2")).exists();
    }

    private static void qemuImg(String... args) {
        List<String> argv = new java.util.ArrayList<>(List.of("qemu-img"));
        argv.addAll(List.of(args));
        ProcessRunner.Result r = ProcessRunner.run(argv, Duration.ofSeconds(60));
        if (!r.ok()) {
            throw new AssertionError(String.join(" ", argv) + ": " + r.stderr());
        }
    }
}
