package org.carevisor.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.List;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.qemu.ImageChain;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The check of a started QEMU's open files, against a real process that holds files open as QEMU would (a shell
 * that opened them and then sleeps): the checked disk files must be open - the same files, by inode - and no other
 * file outside the VM's runtime directory may be.
 */
class OpenedFilesTest {
    @TempDir
    Path dir;
    Path disk;
    Path runtime;
    Path hostFile;
    Process holder;

    @BeforeEach
    void files() throws Exception {
        disk = dir.resolve("storage/vms/a/disk0.qcow2");
        runtime = dir.resolve("state/vms/a");
        hostFile = dir.resolve("host-secret");
        Files.createDirectories(disk.getParent());
        Files.createDirectories(runtime);
        Files.writeString(disk, "disk");
        Files.writeString(runtime.resolve("console.log"), "log");
        Files.writeString(hostFile, "secret");
    }

    @AfterEach
    void stop() throws Exception {
        if (holder != null) {
            holder.destroyForcibly();
            holder.waitFor();
        }
    }

    /** A process that holds {@code files} open on fds 3, 4, ... */
    private long holding(Path... files) throws Exception {
        StringBuilder script = new StringBuilder();
        for (int i = 0; i < files.length; i++) {
            script.append("exec ").append(3 + i).append("<\"$").append(i + 1).append("\"; ");
        }
        script.append("exec sleep 60");
        List<String> argv = new java.util.ArrayList<>(List.of("sh", "-c", script.toString(), "sh"));
        for (Path f : files) {
            argv.add(f.toString());
        }
        holder = new ProcessBuilder(argv).start();
        long pid = holder.pid();
        Poll.until(Duration.ofSeconds(10), "the files to be open", () -> {
            try (var fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
                return fds.count() >= 3 + files.length
                        && Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "exe")).toString().contains("sleep");
            } catch (java.io.IOException e) {
                return false;
            }
        });
        return pid;
    }

    private ImageChain checked(Path file) throws Exception {
        Object key = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        return new ImageChain(List.of(new ImageChain.Link(file, "qcow2", key)));
    }

    private static final List<DiskSpec> SPEC = List.of(new DiskSpec("disk0", "vms/a/disk0.qcow2", "qcow2", false));

    @Test
    void theCheckedDiskAndTheRuntimeFilesPass() throws Exception {
        long pid = holding(disk, runtime.resolve("console.log"));
        assertThatCode(() -> OpenedFiles.check("a", pid, SPEC, List.of(checked(disk)), runtime)).doesNotThrowAnyException();
    }

    @Test
    void anotherFileOpenedInsteadOfTheDiskIsRefused() throws Exception {
        ImageChain chain = checked(disk);
        // between the check and QEMU's open, the disk was swapped for a link to a host file
        Files.delete(disk);
        Files.createSymbolicLink(disk, hostFile);
        long pid = holding(disk);
        AgentException e = catchThrowableOfType(AgentException.class,
                () -> OpenedFiles.check("a", pid, SPEC, List.of(chain), runtime));
        assertThat(e.code()).isEqualTo("disk-image-refused");
        assertThat(e.getMessage()).contains(hostFile.toString()).contains("QEMU was stopped before the guest ran");
    }

    @Test
    void anExtraFileBesideTheDiskIsRefused() throws Exception {
        long pid = holding(disk, hostFile);
        AgentException e = catchThrowableOfType(AgentException.class,
                () -> OpenedFiles.check("a", pid, SPEC, List.of(checked(disk)), runtime));
        assertThat(e.getMessage()).contains(hostFile.toString());
    }

    @Test
    void aCheckedDiskThatIsNotOpenIsRefused() throws Exception {
        ImageChain chain = checked(disk);
        long pid = holding(runtime.resolve("console.log"));
        AgentException e = catchThrowableOfType(AgentException.class,
                () -> OpenedFiles.check("a", pid, SPEC, List.of(chain), runtime));
        assertThat(e.getMessage()).contains("did not open").contains("disk disk0");
    }
}
