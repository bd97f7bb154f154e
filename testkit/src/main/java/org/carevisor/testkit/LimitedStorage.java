package org.carevisor.testkit;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A size-limited storage for a lab: an ext4 file system (no blocks reserved for root) in a sparse image file,
 * loop-mounted where the lab keeps its storage, so a test can fill it to the last block ({@link #fill}) and free it
 * again ({@link #free}) without touching the machine's own disk. Needs root. Close it after the lab.
 */
public final class LimitedStorage implements AutoCloseable {
    private final Path mountPoint;
    private final Path image;
    private final Path ballast;

    private LimitedStorage(Path mountPoint, Path image) {
        this.mountPoint = mountPoint;
        this.image = image;
        this.ballast = mountPoint.resolve("chaos-ballast");
    }

    /** Creates and mounts a file system of {@code mib} MiB at {@code mountPoint} (created; must be empty). */
    public static LimitedStorage mount(Path mountPoint, int mib) throws IOException {
        Path image = mountPoint.resolveSibling(mountPoint.getFileName() + ".ext4");
        Files.createDirectories(mountPoint);
        run("truncate", "-s", mib + "M", image.toString());
        run("mkfs.ext4", "-q", "-F", "-m", "0", image.toString());
        run("mount", "-o", "loop", image.toString(), mountPoint.toString());
        Files.deleteIfExists(mountPoint.resolve("lost+found"));
        return new LimitedStorage(mountPoint, image);
    }

    /** Fills the file system to its last block with a ballast file; returns the bytes it took. */
    public long fill() throws IOException {
        long free = Files.getFileStore(mountPoint).getUsableSpace();
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
        return Files.getFileStore(mountPoint).getUsableSpace();
    }

    @Override
    public void close() throws IOException {
        free();
        run("umount", "-l", mountPoint.toString());
        Files.deleteIfExists(image);
    }

    private static void run(String... cmd) throws IOException {
        Commands.run(Duration.ofSeconds(60), cmd);
    }
}
