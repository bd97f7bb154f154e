package org.carevisor.agent.vm;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.qemu.ImageChain;

/**
 * Checks the files a just started QEMU holds open, while it is still paused ({@code -S}) and before its guest runs
 * ({@code /proc/<pid>/fd}): every file of every disk's checked chain must be open - the very file the agent checked,
 * compared by device and inode - and no other regular file may be, apart from the VM's own runtime files, QEMU's
 * memory files and files of the installed system ({@code /usr}, {@code /lib*}). This closes the gap between the
 * agent's checks and QEMU's opening by path: a directory or file of the storage swapped for a link in between, or a
 * header rewritten to name an external data file, shows here and the guest never runs. Thread-safe (stateless).
 */
final class OpenedFiles {
    private OpenedFiles() {
    }

    /**
     * Refuses (422 {@code disk-image-refused}) unless QEMU process {@code pid} opened exactly the checked files of
     * {@code disks} (the chains of {@code specDisks}, in order) and nothing else outside {@code runtimeDir}.
     */
    static void check(String vmId, long pid, List<DiskSpec> specDisks, List<ImageChain> disks, Path runtimeDir) {
        Map<Object, String> expected = new HashMap<>();
        for (int d = 0; d < disks.size(); d++) {
            ImageChain chain = disks.get(d);
            for (int i = 0; i < chain.links().size(); i++) {
                ImageChain.Link l = chain.links().get(i);
                if (l.fileKey() != null) {
                    expected.put(l.fileKey(), "disk " + specDisks.get(d).id() + (i == 0 ? " (" : ": backing file ")
                            + l.file() + (i == 0 ? ")" : ""));
                }
            }
        }
        Path fdDir = Path.of("/proc", Long.toString(pid), "fd");
        String runtime = runtimeDir.toAbsolutePath().normalize() + "/";
        Set<Object> seen = new HashSet<>();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(fdDir)) {
            for (Path fd : fds) {
                String target;
                BasicFileAttributes a;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                    a = Files.readAttributes(fd, BasicFileAttributes.class);
                } catch (IOException e) {
                    continue; // closed meanwhile
                }
                if (!a.isRegularFile() || allowed(target, runtime)) {
                    continue;
                }
                if (expected.containsKey(a.fileKey())) {
                    seen.add(a.fileKey());
                    continue;
                }
                throw new AgentException(422, "disk-image-refused", "VM " + vmId + ": QEMU opened " + target
                        + ", which is none of the files the agent checked for its disks (an image header or the"
                        + " storage changed between the check and QEMU's start?); QEMU was stopped before the guest ran");
            }
        } catch (IOException e) {
            throw new AgentException(500, "start-failed", "VM " + vmId + ": cannot check the files QEMU opened ("
                    + fdDir + "): " + e.getMessage() + "; QEMU was stopped before the guest ran", e);
        }
        for (Map.Entry<Object, String> e : expected.entrySet()) {
            if (!seen.contains(e.getKey())) {
                throw new AgentException(422, "disk-image-refused", "VM " + vmId + ": QEMU did not open the file the"
                        + " agent checked for " + e.getValue() + " (was it replaced between the check and QEMU's"
                        + " start?); QEMU was stopped before the guest ran");
            }
        }
    }

    private static boolean allowed(String target, String runtime) {
        return target.startsWith(runtime) || target.startsWith("/memfd:") || target.startsWith("/usr/")
                || target.startsWith("/lib/") || target.startsWith("/lib64/");
    }
}
