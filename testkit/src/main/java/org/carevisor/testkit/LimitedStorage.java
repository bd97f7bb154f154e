package org.carevisor.testkit;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A size-limited storage for a lab: an ext4 file system (no blocks reserved for root) in a sparse image file,
 * loop-mounted where the lab keeps its storage, so a test can fill it to the last block ({@link #fill}) and free it
 * again ({@link #free}) without touching the machine's own disk. Mounted {@link #mountFreezable freezable}, it is
 * seen through a FUSE layer (Debian's {@code bindfs}) whose process {@link #freeze} stops: every access to the
 * storage then hangs, as it does when a SAN or NFS server is unreachable (the kernel here has no device mapper,
 * whose {@code dmsetup suspend} would do the same one layer lower). Needs root. Close it after the lab.
 */
public final class LimitedStorage implements AutoCloseable {
    private final Path mountPoint;
    private final Path image;
    private final Path ballast;
    /** Where the ext4 is mounted under the FUSE layer, or null when it is mounted at {@link #mountPoint} itself. */
    private final Path backing;
    private final Process fuse;
    private volatile boolean frozen;

    private LimitedStorage(Path mountPoint, Path image, Path backing, Process fuse) {
        this.mountPoint = mountPoint;
        this.image = image;
        this.ballast = (backing == null ? mountPoint : backing).resolve("chaos-ballast");
        this.backing = backing;
        this.fuse = fuse;
    }

    /** Creates and mounts a file system of {@code mib} MiB at {@code mountPoint} (created; must be empty). */
    public static LimitedStorage mount(Path mountPoint, int mib) throws IOException {
        Path image = format(mountPoint, mib);
        Files.createDirectories(mountPoint);
        run("mount", "-o", "loop", image.toString(), mountPoint.toString());
        Files.deleteIfExists(mountPoint.resolve("lost+found"));
        return new LimitedStorage(mountPoint, image, null, null);
    }

    /**
     * Like {@link #mount}, with the file system mounted beside {@code mountPoint} and seen at {@code mountPoint}
     * through {@code bindfs} (multithreaded, in the foreground, so this object holds its process and can stop it).
     */
    public static LimitedStorage mountFreezable(Path mountPoint, int mib) throws IOException {
        Path image = format(mountPoint, mib);
        Path backing = mountPoint.resolveSibling(mountPoint.getFileName() + ".backing");
        Files.createDirectories(backing);
        Files.createDirectories(mountPoint);
        run("mount", "-o", "loop", image.toString(), backing.toString());
        Files.deleteIfExists(backing.resolve("lost+found"));
        Process fuse = new ProcessBuilder("bindfs", "-f", "--multithreaded", backing.toString(), mountPoint.toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        LimitedStorage s = new LimitedStorage(mountPoint, image, backing, fuse);
        try {
            Poll.until(Duration.ofSeconds(20), "bindfs to mount " + mountPoint, () -> {
                if (!fuse.isAlive()) {
                    throw new IllegalStateException("bindfs ended (exit " + fuse.exitValue() + ") before it mounted "
                            + mountPoint + "; is Debian's bindfs installed?");
                }
                try {
                    return mounted(mountPoint) ? Boolean.TRUE : null;
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    private static Path format(Path mountPoint, int mib) throws IOException {
        Path image = mountPoint.resolveSibling(mountPoint.getFileName() + ".ext4");
        Files.createDirectories(mountPoint.toAbsolutePath().getParent());
        run("truncate", "-s", mib + "M", image.toString());
        run("mkfs.ext4", "-q", "-F", "-m", "0", image.toString());
        return image;
    }

    private static boolean mounted(Path mountPoint) throws IOException {
        String target = " " + mountPoint.toAbsolutePath() + " ";
        return Files.readAllLines(Path.of("/proc/self/mounts")).stream().anyMatch(l -> l.contains(target));
    }

    /** Whether {@link #freeze} can be used (mounted with {@link #mountFreezable}). */
    public boolean freezable() {
        return fuse != null;
    }

    public boolean frozen() {
        return frozen;
    }

    /**
     * Stops the FUSE layer's process: from now on every access to the storage waits (reads, writes, stat, the lease
     * renewals, QEMU's disk I/O) until {@link #thaw}.
     */
    public void freeze() throws IOException {
        if (fuse == null) {
            throw new IllegalStateException(mountPoint + " is not mounted freezable");
        }
        signal("STOP");
        frozen = true;
    }

    /** Lets the FUSE layer's process go on: what waited is answered. */
    public void thaw() throws IOException {
        if (fuse != null) {
            signal("CONT");
            frozen = false;
        }
    }

    private void signal(String name) throws IOException {
        run("kill", "-" + name, Long.toString(fuse.pid()));
    }

    /** Fills the file system to its last block with a ballast file; returns the bytes it took. */
    public long fill() throws IOException {
        long free = Files.getFileStore(ballast.getParent()).getUsableSpace();
        if (free > (1 << 20)) {
            run("fallocate", "-l", Long.toString(free - (1 << 20)), ballast.toString());
        }
        try (OutputStream out = Files.newOutputStream(ballast, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.APPEND)) {
            byte[] chunk = new byte[4096];
            for (int i = 0; i < 1 << 20; i++) {
                out.write(chunk);
                out.flush();
            }
            throw new IOException(mountPoint + " is not full after writing 4 GiB more");
        } catch (IOException e) {
            if (!String.valueOf(e.getMessage()).contains("No space left")) {
                throw e;
            }
        }
        return Files.size(ballast);
    }

    /** Removes the ballast: the file system has its room again. */
    public void free() throws IOException {
        Files.deleteIfExists(ballast);
    }

    public boolean full() {
        return Files.exists(ballast);
    }

    /** Bytes usable now. */
    public long usable() throws IOException {
        return Files.getFileStore(ballast.getParent()).getUsableSpace();
    }

    @Override
    public void close() throws IOException {
        if (fuse != null && fuse.isAlive()) {
            thaw();
        }
        free();
        if (fuse != null) {
            if (mounted(mountPoint)) {
                run("umount", "-l", mountPoint.toString());
            }
            fuse.destroy();
            try {
                if (!fuse.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                    fuse.destroyForcibly();
                }
            } catch (InterruptedException e) {
                fuse.destroyForcibly();
                Thread.currentThread().interrupt();
            }
            run("umount", "-l", backing.toString());
        } else {
            run("umount", "-l", mountPoint.toString());
        }
        Files.deleteIfExists(image);
    }

    private static void run(String... cmd) throws IOException {
        Commands.run(Duration.ofSeconds(60), cmd);
    }
}
