package org.carevisor.agent.ha;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import org.carevisor.protocol.HaTimings;
import org.carevisor.protocol.SignedLease;

/**
 * Where storage lease files live: {@code <storageRoot>/.carevisor/leases/<hostId>.lease}, whose text is a {@link
 * SignedLease} (signed by its owner), ended by a NUL byte and padded with NULs to a whole number of {@link #BLOCK}s.
 * Reads are bounded, so a huge file put there by someone else costs nothing, and end at the first NUL.
 *
 * <p>Why in place: a renewal rewrites the file where it lies (the same blocks, then {@code fdatasync}) instead of
 * writing a new file and renaming it. A new file needs free blocks, so on a full storage every host's renewals would
 * fail at once and every host would kill its HA VMs after the self-fence time (the fault campaign's storage-full
 * fault showed it); blocks already held are always writable. Only the first lease, a longer one, or a file that is
 * not a plain file of its own (a symbolic or hard link put there) is written new and renamed. Stateless.
 */
public final class LeaseFile {
    /** Suffix of lease files; temporary files of writers start with a dot and end otherwise. */
    public static final String SUFFIX = ".lease";
    public static final String AGENT = SignedLease.AGENT;
    public static final String KEEPER = SignedLease.KEEPER;
    /** Lease files are padded to a multiple of this (one file system block on common storage). */
    public static final int BLOCK = 4096;
    /** The most bytes a lease file may have: the longest text, its end mark and padding. */
    static final int MAX_FILE = SignedLease.MAX_TEXT + BLOCK;

    private LeaseFile() {
    }

    /** The directory of all lease files of the storage at {@code storageRoot}. */
    public static Path directory(Path storageRoot) {
        return storageRoot.resolve(HaTimings.LEASE_DIR);
    }

    /** The lease file of {@code hostId}. */
    public static Path of(Path storageRoot, String hostId) {
        return directory(storageRoot).resolve(hostId + SUFFIX);
    }

    /**
     * The text of a lease file up to its first NUL byte (the whole file when it has none), at most {@link
     * SignedLease#MAX_TEXT} bytes of text in a file of at most {@link #MAX_FILE}; {@link IOException} for a longer
     * one (it is no lease) or when it cannot be read.
     */
    public static String read(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] bytes = in.readNBytes(MAX_FILE + 1);
            int end = indexOfNul(bytes);
            if (end < 0 && bytes.length > MAX_FILE) {
                throw new IOException("it is larger than " + MAX_FILE + " bytes");
            }
            int length = end < 0 ? bytes.length : end;
            if (length > SignedLease.MAX_TEXT) {
                throw new IOException("its text is longer than " + SignedLease.MAX_TEXT + " bytes");
            }
            return new String(bytes, 0, length, StandardCharsets.UTF_8);
        }
    }

    /**
     * Writes lease {@code text} to {@code target} durably: in place over the file's own blocks when it is a plain
     * file of its own (no symbolic or hard link) at least as long as the text and its end mark, so no free space is needed; otherwise padded
     * into {@code tmp}, forced and renamed over {@code target}.
     */
    public static void write(Path target, Path tmp, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > SignedLease.MAX_TEXT) {
            throw new IOException("the lease text has " + bytes.length + " bytes, more than " + SignedLease.MAX_TEXT);
        }
        byte[] marked = Arrays.copyOf(bytes, bytes.length + 1); // ends with the NUL mark
        long size = ownPlainFile(target) ? Files.size(target) : -1;
        if (size >= marked.length && size <= MAX_FILE) {
            try (FileChannel ch = FileChannel.open(target, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                ByteBuffer b = ByteBuffer.wrap(marked);
                long at = 0;
                while (b.hasRemaining()) {
                    at += ch.write(b, at);
                }
                ch.force(false);
            }
            return;
        }
        HaDir.replace(target, tmp, padded(text), true);
    }

    /**
     * True when {@code file} is a plain file with no other name: neither a symbolic link nor a hard link (someone who
     * can write the storage could otherwise make a renewal write into a file elsewhere).
     */
    static boolean ownPlainFile(Path file) throws IOException {
        return Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)
                && ((Number) Files.getAttribute(file, "unix:nlink", LinkOption.NOFOLLOW_LINKS)).intValue() == 1;
    }

    /** A signed lease text as the keeper copies it in place: the text, its end mark, padded to whole blocks. */
    static byte[] padded(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        return Arrays.copyOf(bytes, (bytes.length + 1 + BLOCK - 1) / BLOCK * BLOCK);
    }

    private static int indexOfNul(byte[] bytes) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                return i;
            }
        }
        return -1;
    }
}
