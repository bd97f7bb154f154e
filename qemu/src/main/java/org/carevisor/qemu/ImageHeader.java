package org.carevisor.qemu;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * What an image file's first bytes say, read by Carevisor itself and never by QEMU's format probing: the
 * fields of a qcow2 header that let an image reach other files (backing file and its format, external data
 * file, encryption), and the signature of every other image format QEMU 7.2 would take a file for
 * ({@link #lookalike}). Files are opened without following a symbolic link. Thread-safe (stateless).
 */
public final class ImageHeader {
    /** How many first bytes a lookalike is judged on: four times what QEMU's format probing reads (512). */
    public static final int PROBE_BYTES = 2048;
    /** The longest backing file name QEMU accepts in a qcow2 header. */
    public static final int MAX_BACKING_NAME = 1023;

    private static final int QCOW_MAGIC = 0x514649fb;
    private static final int EXT_END = 0;
    private static final int EXT_BACKING_FORMAT = 0xe2792aca;
    private static final int EXT_DATA_FILE = 0x44415441;
    /** qcow2 incompatible feature bit 2: the guest data lives in an external data file. */
    private static final long INCOMPAT_DATA_FILE = 1L << 2;
    private static final int MAX_EXTENSIONS = 256;

    /**
     * The parts of a qcow2 header that matter for what else an image opens.
     *
     * @param backingFile      the backing file name as written in the header, or null
     * @param backingFormat    the backing format recorded in the header (extension 0xe2792aca), or null: QEMU would
     *                         guess it
     * @param externalDataFile the incompatible feature "external data file" is set
     * @param dataFile         the external data file name recorded in the header, or null
     * @param encrypted        the image is encrypted (crypt method not 0)
     */
    public record Qcow2(int version, long virtualSize, int clusterBits, String backingFile, String backingFormat,
                        boolean externalDataFile, String dataFile, boolean encrypted) {
    }

    private ImageHeader() {
    }

    /** The first {@link #PROBE_BYTES} of {@code file} (fewer when it is shorter); never follows a symbolic link. */
    public static byte[] head(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            return read(ch, 0, (int) Math.min(PROBE_BYTES, ch.size()));
        } catch (IOException e) {
            throw new QemuException("disk-image-refused", "cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads the qcow2 header of {@code file}. Refuses ({@code disk-image-refused}, naming {@code what}) a file that
     * has no qcow2 header of version 2 or 3, or one whose header is inconsistent (fields outside the first cluster,
     * an overlong backing name, endless extensions).
     */
    public static Qcow2 readQcow2(Path file, String what) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            long size = ch.size();
            if (size < 72) {
                throw refused(what + " is too short to be a qcow2 image");
            }
            ByteBuffer h = ByteBuffer.wrap(read(ch, 0, (int) Math.min(size, 104)));
            if (h.getInt(0) != QCOW_MAGIC) {
                throw refused(what + " is recorded as qcow2 but has no qcow2 header");
            }
            int version = h.getInt(4);
            if (version != 2 && version != 3) {
                throw refused(what + " is qcow2 version " + version + "; versions 2 and 3 are supported");
            }
            long backingOffset = h.getLong(8);
            int backingSize = h.getInt(16);
            int clusterBits = h.getInt(20);
            if (clusterBits < 9 || clusterBits > 21) {
                throw refused(what + " has an invalid qcow2 cluster size (2^" + clusterBits + ")");
            }
            long clusterSize = 1L << clusterBits;
            long virtualSize = h.getLong(24);
            boolean encrypted = h.getInt(32) != 0;
            long incompatible = 0;
            long headerLength = 72;
            if (version == 3) {
                if (h.limit() < 104) {
                    throw refused(what + " has a truncated qcow2 version 3 header");
                }
                incompatible = h.getLong(72);
                headerLength = Integer.toUnsignedLong(h.getInt(100));
                if (headerLength < 104 || headerLength > clusterSize || headerLength % 8 != 0) {
                    throw refused(what + " has an invalid qcow2 header length " + headerLength);
                }
            }
            String backing = null;
            if (backingOffset != 0 || backingSize != 0) {
                if (backingSize <= 0 || backingSize > MAX_BACKING_NAME || backingOffset < headerLength
                        || backingOffset + backingSize > clusterSize || backingOffset + backingSize > size) {
                    throw refused(what + " has a backing file name outside its header (offset " + backingOffset
                            + ", " + backingSize + " bytes)");
                }
                backing = new String(read(ch, backingOffset, backingSize), StandardCharsets.UTF_8);
            }
            long extensionsEnd = backingOffset != 0 ? backingOffset : Math.min(clusterSize, size);
            String backingFormat = null;
            String dataFile = null;
            long offset = headerLength;
            for (int n = 0; offset < extensionsEnd; n++) {
                if (n > MAX_EXTENSIONS || offset + 8 > extensionsEnd) {
                    throw refused(what + " has more qcow2 header extensions than fit its header");
                }
                ByteBuffer ext = ByteBuffer.wrap(read(ch, offset, 8));
                int type = ext.getInt(0);
                long length = Integer.toUnsignedLong(ext.getInt(4));
                if (type == EXT_END) {
                    break;
                }
                if (length > extensionsEnd - offset - 8) {
                    throw refused(what + " has a qcow2 header extension that runs past its header");
                }
                if (type == EXT_BACKING_FORMAT || type == EXT_DATA_FILE) {
                    if (length > MAX_BACKING_NAME) {
                        throw refused(what + " has an overlong qcow2 header extension");
                    }
                    String value = new String(read(ch, offset + 8, (int) length), StandardCharsets.UTF_8);
                    if (type == EXT_BACKING_FORMAT) {
                        backingFormat = value;
                    } else {
                        dataFile = value;
                    }
                }
                offset += 8 + ((length + 7) & ~7L);
            }
            return new Qcow2(version, virtualSize, clusterBits, backing, backingFormat,
                    (incompatible & INCOMPAT_DATA_FILE) != 0, dataFile, encrypted);
        } catch (IOException e) {
            throw new QemuException("disk-image-refused", "cannot read " + what + ": " + e.getMessage(), e);
        }
    }

    /**
     * The image format that {@code head} (a file's first bytes) looks like to QEMU's format probes, or null when
     * nothing but raw would take it: qcow2 and qcow (QFI magic), QED, VMDK (binary {@code KDMV}/{@code COWD} or a
     * text descriptor: comment and blank lines, then {@code version=1|2|3}, exactly as QEMU's probe reads it), VDI,
     * VPC/VHD, VHDX, Parallels, Bochs, cloop and LUKS.
     */
    public static String lookalike(byte[] head) {
        ByteBuffer b = ByteBuffer.wrap(head);
        if (head.length >= 8 && b.getInt(0) == QCOW_MAGIC) {
            return b.getInt(4) == 1 ? "qcow" : "qcow2";
        }
        if (head.length >= 4 && b.getInt(0) == QCOW_MAGIC) {
            return "qcow2";
        }
        if (startsWith(head, 0, "QED\0")) {
            return "qed";
        }
        if (startsWith(head, 0, "KDMV") || startsWith(head, 0, "COWD") || vmdkDescriptor(head)) {
            return "vmdk";
        }
        if (head.length >= 0x44 && Integer.reverseBytes(b.getInt(0x40)) == 0xbeda107f) {
            return "vdi";
        }
        if (startsWith(head, 0, "conectix")) {
            return "vpc";
        }
        if (startsWith(head, 0, "vhdxfile")) {
            return "vhdx";
        }
        if (startsWith(head, 0, "WithoutFreeSpace") || startsWith(head, 0, "WithouFreSpacExt")) {
            return "parallels";
        }
        if (startsWith(head, 0, "Bochs Virtual HD Image")) {
            return "bochs";
        }
        if (startsWith(head, 0, "#!/bin/sh\n#V2.0 Format\n")) {
            return "cloop";
        }
        if (startsWith(head, 0, "LUKS\u00ba\u00be")) {
            return "luks";
        }
        return null;
    }

    /** QEMU's {@code vmdk_probe} for a text descriptor: '#' comment lines and blank lines, then {@code version=N}. */
    private static boolean vmdkDescriptor(byte[] head) {
        int p = 0;
        int end = head.length;
        while (p < end) {
            if (head[p] == '#') {
                while (p < end && head[p] != '\n') {
                    p++;
                }
                p++;
                continue;
            }
            if (head[p] == ' ') {
                while (p < end && head[p] == ' ') {
                    p++;
                }
                if (p < end && head[p] == '\r') {
                    p++;
                }
                if (p == end || head[p] != '\n') {
                    return false;
                }
                p++;
                continue;
            }
            for (String v : new String[] {"version=1\n", "version=2\n", "version=3\n",
                    "version=1\r\n", "version=2\r\n", "version=3\r\n"}) {
                if (startsWith(head, p, v)) {
                    return true;
                }
            }
            return false;
        }
        return false;
    }

    private static boolean startsWith(byte[] head, int at, String magic) {
        if (at < 0 || head.length - at < magic.length()) {
            return false;
        }
        for (int i = 0; i < magic.length(); i++) {
            if (head[at + i] != (byte) magic.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private static byte[] read(FileChannel ch, long offset, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        while (buf.hasRemaining()) {
            if (ch.read(buf, offset + buf.position()) < 0) {
                break;
            }
        }
        byte[] out = new byte[buf.position()];
        buf.flip().get(out);
        return out;
    }

    private static QemuException refused(String why) {
        return new QemuException("disk-image-refused", why);
    }
}
