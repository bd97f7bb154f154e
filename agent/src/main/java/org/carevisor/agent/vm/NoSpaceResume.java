package org.carevisor.agent.vm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * A VM that QEMU paused because a disk write found its storage full ({@code werror=enospc}: the guest sees no
 * error, the write waits): the supervisor resumes it by itself once every disk's file system has room again, as an
 * operator would after freeing space. Until then it stays paused with a reason that says why. Not thread-safe (the
 * supervisor calls it under its lock, except {@link #roomOn}).
 */
final class NoSpaceResume {
    /** Free bytes every disk's file system needs before a resume is tried. */
    static final long MIN_FREE = 256L << 20;
    /** Least time between two tries (a resume into a storage still full pauses again at once). */
    static final Duration RETRY = Duration.ofSeconds(5);

    private Instant pausedAt;
    private String node;
    private Instant lastTry = Instant.EPOCH;

    /** QEMU reported a write that found no space on the node {@code node} and stops the VM. */
    void paused(Instant now, String node) {
        if (pausedAt == null) {
            pausedAt = now;
        }
        this.node = node;
    }

    boolean isPaused() {
        return pausedAt != null;
    }

    /** The VM's reason while it waits for space (the cause first: the CLI's list shows its start). */
    String why() {
        return "no space left on the storage for disk " + node + " (paused since " + pausedAt + "); it resumes by"
                + " itself once " + (MIN_FREE >> 20) + " MiB are free again";
    }

    /** The VM runs again (or ended): nothing to wait for. */
    void clear() {
        pausedAt = null;
        node = null;
    }

    /** True when a resume is due now (paused for no space, {@link #RETRY} since the last try); counts as a try. */
    boolean due(Instant now) {
        if (pausedAt == null || now.isBefore(lastTry.plus(RETRY))) {
            return false;
        }
        lastTry = now;
        return true;
    }

    /** True when the file system of every disk file has {@link #MIN_FREE} bytes usable. */
    static boolean roomOn(List<Path> disks) {
        try {
            for (Path d : disks) {
                if (Files.getFileStore(d).getUsableSpace() < MIN_FREE) {
                    return false;
                }
            }
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
