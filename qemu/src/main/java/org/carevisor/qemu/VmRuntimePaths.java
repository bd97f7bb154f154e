package org.carevisor.qemu;

import java.nio.file.Path;

/**
 * Files of one running VM on a host: monitor and console sockets, console log and pid file. The sockets
 * live in {@code socketDirectory}, which is the VM's directory unless that path is too long for a unix
 * socket (the kernel's limit is 107 bytes).
 */
public record VmRuntimePaths(Path directory, Path socketDirectory) {
    /** Longest unix socket path the kernel accepts. */
    public static final int MAX_SOCKET_PATH = 107;

    /** Sockets in the VM's own directory. */
    public VmRuntimePaths(Path directory) {
        this(directory, directory);
    }

    /** True when the sockets fit into {@code directory} itself. */
    public static boolean socketsFit(Path directory) {
        return directory.resolve("console.sock").toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                <= MAX_SOCKET_PATH;
    }

    public Path qmpSocket() {
        return socketDirectory.resolve("qmp.sock");
    }

    public Path consoleSocket() {
        return socketDirectory.resolve("console.sock");
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
                        + MAX_SOCKET_PATH + " bytes");
            }
        }
    }
}
