package org.carevisor.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.carevisor.qemu.ImageHeaderTest.qemuImg;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's walk of backing chains against images made by the real qemu-img, with the headers a rogue writer of
 * the storage (or a guest, for its raw disk) would make: only a plain-path backing file in {@code templates/} of the
 * shared storage, with its format recorded, is accepted.
 */
class ImageChainsTest {
    @TempDir
    Path dir;
    Path root;
    Path local;
    Path hostFile;
    ImageChains chains;

    @BeforeEach
    void storage() throws Exception {
        root = dir.resolve("storage");
        local = dir.resolve("local");
        Files.createDirectories(root.resolve("templates/t1"));
        Files.createDirectories(root.resolve("vms/a"));
        Files.createDirectories(root.resolve("vms/b"));
        Files.createDirectories(local.resolve("vms/a"));
        hostFile = dir.resolve("host-secret");
        Files.writeString(hostFile, "CANARY-host-file\n");
        chains = new ImageChains(root, local);
        qemuImg("create", "-q", "-f", "qcow2", root.resolve("templates/t1/disk0.qcow2").toString(), "4M");
        qemuImg("create", "-q", "-f", "raw", root.resolve("templates/t1/disk1.raw").toString(), "4M");
    }

    private void overlay(String path, String backing, String backingFormat) {
        qemuImg("create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", backingFormat,
                root.resolve(path).toString(), "4M");
    }

    private AbstractThrowableAssert<?, ? extends Throwable> refused(String path, String format, String code) {
        return assertThatThrownBy(() -> chains.check("disk disk0 of VM a", path, format))
                .isInstanceOf(QemuException.class).hasMessageContaining("disk disk0 of VM a")
                .satisfies(e -> assertThat(((QemuException) e).code()).isEqualTo(code));
    }

    @Test
    void standAloneImagesAndLinkedClonesOnATemplateBasePass() throws Exception {
        qemuImg("create", "-q", "-f", "qcow2", root.resolve("vms/a/disk0.qcow2").toString(), "4M");
        ImageChain plain = chains.check("disk disk0", "vms/a/disk0.qcow2", "qcow2");
        assertThat(plain.links()).hasSize(1);
        assertThat(plain.top().fileKey()).isNotNull();

        overlay("vms/b/disk0.qcow2", "../../templates/t1/disk0.qcow2", "qcow2");
        overlay("vms/b/disk1.qcow2", "../../templates/t1/disk1.raw", "raw");
        ImageChain linked = chains.check("disk disk0", "vms/b/disk0.qcow2", "qcow2");
        assertThat(linked.links()).extracting(ImageChain.Link::file)
                .containsExactly(root.resolve("vms/b/disk0.qcow2"), root.resolve("templates/t1/disk0.qcow2"));
        assertThat(chains.check("disk disk1", "vms/b/disk1.qcow2", "qcow2").links())
                .extracting(ImageChain.Link::format).containsExactly("qcow2", "raw");

        // a disk on local storage backs onto a shared template base by its absolute path
        qemuImg("create", "-q", "-f", "qcow2", "-u", "-b", root.resolve("templates/t1/disk0.qcow2").toString(), "-F",
                "qcow2", local.resolve("vms/a/disk0.qcow2").toString(), "4M");
        assertThat(chains.check("disk disk0", "local/vms/a/disk0.qcow2", "qcow2").links()).hasSize(2);
    }

    @Test
    void aRawDiskIsRawWhateverItsContent() throws Exception {
        Path qcow = dir.resolve("crafted.qcow2");
        qemuImg("create", "-q", "-f", "qcow2", "-u", "-b", hostFile.toString(), "-F", "raw", qcow.toString(), "4M");
        Files.copy(qcow, root.resolve("vms/a/disk0.raw"));
        assertThat(chains.check("disk disk0", "vms/a/disk0.raw", "raw").links()).hasSize(1)
                .allSatisfy(l -> assertThat(l.format()).isEqualTo("raw"));
    }

    @Test
    void aBackingFileOutsideTheTemplatesIsRefused() throws Exception {
        overlay("vms/a/disk0.qcow2", hostFile.toString(), "raw");
        refused("vms/a/disk0.qcow2", "qcow2", "backing-file-refused").hasMessageContaining(hostFile.toString())
                .hasMessageContaining("outside");
        Files.delete(root.resolve("vms/a/disk0.qcow2"));
        overlay("vms/a/disk0.qcow2", "../../../host-secret", "raw");
        refused("vms/a/disk0.qcow2", "qcow2", "backing-file-refused").hasMessageContaining("../../../host-secret");
        // another VM's disk is not a template base either
        Files.delete(root.resolve("vms/a/disk0.qcow2"));
        qemuImg("create", "-q", "-f", "qcow2", root.resolve("vms/b/disk0.qcow2").toString(), "4M");
        overlay("vms/a/disk0.qcow2", "../b/disk0.qcow2", "qcow2");
        refused("vms/a/disk0.qcow2", "qcow2", "backing-file-refused").hasMessageContaining("../b/disk0.qcow2");
        // nor a disk on this host's local storage, for a disk on the shared storage
        Files.delete(root.resolve("vms/a/disk0.qcow2"));
        qemuImg("create", "-q", "-f", "qcow2", local.resolve("vms/a/x.qcow2").toString(), "4M");
        overlay("vms/a/disk0.qcow2", local.resolve("vms/a/x.qcow2").toString(), "qcow2");
        refused("vms/a/disk0.qcow2", "qcow2", "backing-file-refused").hasMessageContaining("outside");
    }

    @Test
    void pseudoFileNamesAndProtocolsAreRefused() throws Exception {
        String json = "json:{\"driver\":\"file\",\"filename\":\"" + hostFile + "\"}";
        overlay("vms/a/disk0.qcow2", json, "raw");
        refused("vms/a/disk0.qcow2", "qcow2", "backing-file-refused").hasMessageContaining("json:")
                .hasMessageContaining(hostFile.toString());
        for (String name : new String[] {"nbd:127.0.0.1:10809", "file:" + hostFile, "templates/t1/x:y"}) {
            Files.delete(root.resolve("vms/a/disk0.qcow2"));
            overlay("vms/a/disk0.qcow2", name, "raw");
            refused("vms/a/disk0.qcow2", "qcow2", "backing-file-refused").hasMessageContaining(name)
                    .hasMessageContaining("protocol");
        }
    }

    @Test
    void aBackingFileWithoutItsFormatIsRefused() throws Exception {
        overlay("vms/a/disk0.qcow2", "../../templates/t1/disk0.qcow2", "qcow2");
        // hide the backing format extension (0xe2792aca) under an unknown extension type, as a hand-made header would
        Path disk = root.resolve("vms/a/disk0.qcow2");
        try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(4096);
            ch.read(b, 0);
            int headerLength = b.getInt(100);
            assertThat(b.getInt(headerLength)).isEqualTo(0xe2792aca);
            ch.write(ByteBuffer.allocate(4).putInt(0, 0x0badf00d), headerLength);
        }
        refused("vms/a/disk0.qcow2", "qcow2", "backing-file-refused").hasMessageContaining("without its format");
        // and a format qcow2 and raw are not
        Files.delete(disk);
        overlay("vms/a/disk0.qcow2", "../../templates/t1/disk0.qcow2", "vmdk");
        refused("vms/a/disk0.qcow2", "qcow2", "backing-file-refused").hasMessageContaining("vmdk");
    }

    @Test
    void symbolicLinksLoopsAndDeepChainsAreRefused() throws Exception {
        Files.createSymbolicLink(root.resolve("templates/t1/link.qcow2"), hostFile);
        overlay("vms/a/disk0.qcow2", "../../templates/t1/link.qcow2", "raw");
        refused("vms/a/disk0.qcow2", "qcow2", "backing-file-refused").hasMessageContaining("symbolic link");

        Files.createDirectories(root.resolve("templates/loop"));
        overlay("templates/loop/a.qcow2", "b.qcow2", "qcow2");
        overlay("templates/loop/b.qcow2", "a.qcow2", "qcow2");
        Files.delete(root.resolve("vms/a/disk0.qcow2"));
        overlay("vms/a/disk0.qcow2", "../../templates/loop/a.qcow2", "qcow2");
        refused("vms/a/disk0.qcow2", "qcow2", "backing-file-refused").hasMessageContaining("loop");

        Files.createDirectories(root.resolve("templates/deep"));
        qemuImg("create", "-q", "-f", "qcow2", root.resolve("templates/deep/d0.qcow2").toString(), "4M");
        for (int i = 1; i <= ImageChains.MAX_BACKING_FILES + 1; i++) {
            overlay("templates/deep/d" + i + ".qcow2", "d" + (i - 1) + ".qcow2", "qcow2");
        }
        assertThat(chains.check("deep", "templates/deep/d" + ImageChains.MAX_BACKING_FILES + ".qcow2", "qcow2")
                .links()).hasSize(ImageChains.MAX_BACKING_FILES + 1);
        refused("templates/deep/d" + (ImageChains.MAX_BACKING_FILES + 1) + ".qcow2", "qcow2", "backing-file-refused")
                .hasMessageContaining("more than " + ImageChains.MAX_BACKING_FILES);
    }

    @Test
    void anImageNotAsRecordedIsRefused() throws Exception {
        qemuImg("create", "-q", "-f", "raw", root.resolve("vms/a/disk0.qcow2").toString(), "4M");
        refused("vms/a/disk0.qcow2", "qcow2", "disk-image-refused").hasMessageContaining("no qcow2 header");
        refused("vms/a/disk0.qcow2", "vmdk", "disk-image-refused").hasMessageContaining("vmdk");
        refused("vms/a/missing.qcow2", "qcow2", "disk-image-refused").hasMessageContaining("does not exist");

        qemuImg("create", "-q", "-f", "qcow2", "-o", "data_file=" + hostFile + ",data_file_raw=on",
                root.resolve("vms/a/data.qcow2").toString(), "4M");
        refused("vms/a/data.qcow2", "qcow2", "disk-image-refused").hasMessageContaining("external data file")
                .hasMessageContaining(hostFile.toString());
        qemuImg("create", "-q", "-f", "qcow2", root.resolve("vms/a/enc.qcow2").toString(), "4M");
        ImageHeaderTest.markEncrypted(root.resolve("vms/a/enc.qcow2"));
        refused("vms/a/enc.qcow2", "qcow2", "disk-image-refused").hasMessageContaining("encrypted");
    }

    @Test
    void aSymbolicLinkAsTheDiskItselfIsRefused() throws Exception {
        Files.createSymbolicLink(root.resolve("vms/a/disk0.qcow2"), hostFile);
        assertThatThrownBy(() -> chains.check("disk disk0", "vms/a/disk0.qcow2", "raw"))
                .isInstanceOf(QemuException.class).hasMessageContaining("symbolic link");
        Files.createSymbolicLink(root.resolve("vms/c"), root.resolve("vms/a"));
        assertThatThrownBy(() -> chains.check("disk disk0", "vms/c/disk0.qcow2", "raw"))
                .isInstanceOf(QemuException.class).hasMessageContaining("symbolic link");
    }
}
