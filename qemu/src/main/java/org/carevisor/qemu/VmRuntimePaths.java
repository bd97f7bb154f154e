package org.carevisor.qemu;

import java.nio.file.Path;

/**
 * Files of one running VM on a host: monitor and console sockets, console log and pid file.
 * Unix socket paths must stay below the kernel's limit of 107 bytes.
 */
public record VmRuntimePaths(Path directory) {
    /** Longest unix socket path the kernel accepts. */
    public static final int MAX_SOCKET_PATH = 107;

    public Path qmpSocket() {
        return directory.resolve("qmp.sock");
    }

    public Path consoleSocket() {
        return directory.resolve("console.sock");
    }

    public Path consoleLog() {
        return directory.resolve("console.log");
    }

    public Path pidFile() {
        return directory.resolve("qemu.pid");
    }

    public Path qemuLog() {
        return directory.resolve("qemu.log");
    }

    /** Where the wrapper writes QEMU's exit status ("code epoch-seconds"). */
    public Path exitStatus() {
        return directory.resolve("exit-status");
    }

    /** Fails when a socket path would be too long for the kernel. */
    public void checkSocketPaths() {
        for (Path p : new Path[] {qmpSocket(), consoleSocket()}) {
            if (p.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_SOCKET_PATH) {
                throw new QemuException("socket-path-too-long", "unix socket path " + p + " is longer than "
                        + MAX_SOCKET_PATH + " bytes; choose a shorter agent state directory");
            }
        }
    }
}
