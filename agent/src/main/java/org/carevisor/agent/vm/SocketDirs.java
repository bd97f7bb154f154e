package org.carevisor.agent.vm;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.carevisor.qemu.VmRuntimePaths;

/**
 * Where a VM's unix sockets go: its own directory when the path fits the kernel's 107-byte limit, else a
 * short runtime directory derived from the agent's state directory, so a restarted agent finds the same
 * sockets. As root that is {@code /run/carevisor/<hash>/<vm>} (tmpfs, never aged; QEMU does not survive a
 * reboot anyway), otherwise {@code $XDG_RUNTIME_DIR/carevisor/...} or {@code /tmp/carevisor-<user>/...}.
 */
final class SocketDirs {
    private SocketDirs() {
    }

    static Path forVm(Path stateDir, Path vmDir, String vmId) {
        if (VmRuntimePaths.socketsFit(vmDir)) {
            return vmDir;
        }
        return runtimeBase().resolve(hash(stateDir.toAbsolutePath().normalize().toString())).resolve(vmId);
    }

    private static Path runtimeBase() {
        Path run = Path.of("/run");
        if (Files.isWritable(run)) {
            return run.resolve("carevisor");
        }
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        if (xdg != null && !xdg.isBlank() && Files.isWritable(Path.of(xdg))) {
            return Path.of(xdg, "carevisor");
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "carevisor-" + System.getProperty("user.name"));
    }

    private static String hash(String s) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
