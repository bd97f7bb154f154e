package org.carevisor.agent.storage;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.carevisor.agent.AgentException;

/**
 * Reads an export file from outside (it may be crafted) in one pass with commons-compress, never with an
 * extracting tool: the members must be exactly {@code manifest.json}, {@code manifest.json.sha256} (in this
 * order) and the disks the verified manifest names ({@code disks/<id>.<format>}, each once, optionally after a
 * {@code disks/} directory entry), each a regular file; symbolic and hard links, devices, FIFOs, sparse
 * entries, other directories and any other name (checked on the effective name after pax and GNU long-name
 * headers) are refused, as is a header larger than {@value #MAX_HEADER_BYTES} bytes. The agent writes each disk
 * itself ({@code CREATE_NEW}, {@code NOFOLLOW_LINKS}) into a fresh directory, hashing it on the way, and
 * stops as soon as a member is bigger than the manifest says. Every refusal is a 422 {@code invalid-export}
 * naming the member. Thread-safe (stateless).
 */
final class ExportReader {
    /** The most header bytes (ustar, pax, GNU long name) in front of one member. */
    static final int MAX_HEADER_BYTES = 64 * 1024;
    /** The largest {@code manifest.json.sha256} (64 hex digits, two spaces, the name, a newline). */
    static final int MAX_SUM_BYTES = 256;
    private static final String DISKS_DIR = "disks/";

    /** A verified manifest: its bytes as stored and what the agent reads from it. */
    record Manifest(byte[] bytes, ExportManifest parsed) {
        String json() {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    /** A verified unpacked export: the manifest and each disk's file inside the work directory. */
    record Unpacked(Manifest manifest, Map<ExportManifest.Disk, Path> files) {
    }

    /** Reads and verifies the manifest only (the first two members); the disks are not read. */
    Manifest inspect(Path source) {
        try (Members members = new Members(source)) {
            return readManifest(members);
        } catch (IOException e) {
            throw unreadable(e);
        }
    }

    /**
     * Unpacks {@code source} into {@code work} (an empty directory made for this import), verifying every
     * member; refuses disks that together need more than {@code freeBytes}.
     */
    Unpacked unpack(Path source, Path work, long freeBytes) {
        try (Members members = new Members(source)) {
            Manifest manifest = readManifest(members);
            long total = manifest.parsed().disks().stream().mapToLong(ExportManifest.Disk::bytes).sum();
            if (total > freeBytes) {
                throw new AgentException(507, "storage-full", "the export's disks need " + total + " bytes but only "
                        + freeBytes + " are free");
            }
            Map<String, ExportManifest.Disk> expected = new LinkedHashMap<>();
            manifest.parsed().disks().forEach(d -> expected.put(d.file(), d));
            Map<ExportManifest.Disk, Path> files = new LinkedHashMap<>();
            boolean dirSeen = false;
            TarArchiveEntry e;
            while ((e = members.next()) != null) {
                String name = e.getName();
                if (name.equals(DISKS_DIR) && e.getLinkFlag() == TarConstants.LF_DIR && !dirSeen && files.isEmpty()) {
                    dirSeen = true;
                    continue;
                }
                ExportManifest.Disk d = expected.remove(name);
                if (d == null) {
                    boolean twice = name.equals(DISKS_DIR) || name.equals(ExportPacker.MANIFEST)
                            || name.equals(ExportPacker.MANIFEST_SUM)
                            || files.keySet().stream().anyMatch(x -> x.file().equals(name));
                    throw invalid(twice ? "member '" + name + "' appears twice (or out of order) in the export file"
                            : "unexpected member '" + ExportNames.printable(name) + "' in the export file");
                }
                requireRegular(e);
                if (e.getSize() != d.bytes()) {
                    throw invalid(name + " is truncated or altered: " + e.getSize() + " bytes instead of " + d.bytes());
                }
                Path file = work.resolve(d.id() + "." + d.format());
                String sha = copy(members.stream(), file, d.bytes(), name);
                if (!sha.equals(d.sha256())) {
                    throw invalid(name + " was altered: SHA-256 " + sha + " does not match the manifest's " + d.sha256());
                }
                files.put(d, file);
            }
            if (!expected.isEmpty()) {
                ExportManifest.Disk d = expected.values().iterator().next();
                throw invalid("disk " + d.id() + " (" + d.file() + ") is missing from the export file");
            }
            return new Unpacked(manifest, files);
        } catch (IOException e) {
            throw unreadable(e);
        }
    }

    private static Manifest readManifest(Members members) throws IOException {
        TarArchiveEntry m = members.next();
        if (m == null || !m.getName().equals(ExportPacker.MANIFEST)) {
            throw invalid("the file is not a Carevisor export: its first member is "
                    + (m == null ? "missing" : "'" + ExportNames.printable(m.getName()) + "'")
                    + ", not " + ExportPacker.MANIFEST);
        }
        requireRegular(m);
        byte[] bytes = small(members, m, ExportManifest.MAX_BYTES);
        TarArchiveEntry s = members.next();
        if (s == null || !s.getName().equals(ExportPacker.MANIFEST_SUM)) {
            throw invalid("the export file has no " + ExportPacker.MANIFEST_SUM + " after " + ExportPacker.MANIFEST
                    + (s == null ? "" : " (found '" + ExportNames.printable(s.getName()) + "')"));
        }
        requireRegular(s);
        String sum = new String(small(members, s, MAX_SUM_BYTES), StandardCharsets.US_ASCII).strip();
        String expected = sum.split("\\s+")[0];
        if (!Sha256.of(bytes).equals(expected)) {
            throw invalid(ExportPacker.MANIFEST + " was altered: its SHA-256 does not match "
                    + ExportPacker.MANIFEST_SUM);
        }
        return new Manifest(bytes, ExportManifest.parse(bytes));
    }

    private static byte[] small(Members members, TarArchiveEntry e, int max) throws IOException {
        if (e.getSize() > max) {
            throw invalid(e.getName() + " has " + e.getSize() + " bytes; at most " + max + " are accepted");
        }
        byte[] bytes = members.stream().readNBytes((int) e.getSize());
        if (bytes.length != e.getSize()) {
            throw truncated(e.getName());
        }
        return bytes;
    }

    /** A member must be a plain regular file: no link, device, FIFO, directory or sparse file. */
    private static void requireRegular(TarArchiveEntry e) {
        String kind = e.isSymbolicLink() ? "a symbolic link"
                : e.isLink() ? "a hard link"
                : e.isCharacterDevice() ? "a character device"
                : e.isBlockDevice() ? "a block device"
                : e.isFIFO() ? "a FIFO"
                : e.isDirectory() ? "a directory"
                : e.isSparse() ? "a sparse file"
                : e.getLinkFlag() != TarConstants.LF_NORMAL && e.getLinkFlag() != TarConstants.LF_OLDNORM
                ? "an entry of type '" + (char) e.getLinkFlag() + "'" : null;
        if (kind != null) {
            throw invalid("member '" + ExportNames.printable(e.getName()) + "' is " + kind
                    + "; an export holds only regular files");
        }
    }

    /** Writes exactly {@code size} bytes into the new file {@code target}, returning their SHA-256. */
    private static String copy(InputStream in, Path target, long size, String name) throws IOException {
        MessageDigest md = sha256();
        byte[] buffer = new byte[1 << 20];
        long left = size;
        try (OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
            while (left > 0) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
                if (n < 0) {
                    throw truncated(name);
                }
                md.update(buffer, 0, n);
                out.write(buffer, 0, n);
                left -= n;
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    private static AgentException truncated(String member) {
        return invalid("the export file is truncated: it ends inside " + member);
    }

    private static AgentException unreadable(IOException e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return invalid(e instanceof EOFException || message.toLowerCase(java.util.Locale.ROOT).contains("truncated")
                ? "the export file is truncated: it ends before its last member (" + ExportNames.printable(message) + ")"
                : "the file is not a readable Carevisor export (" + ExportNames.printable(message) + ")");
    }

    private static AgentException invalid(String why) {
        return ExportManifest.invalid(why);
    }

    /** The members of one export file, each header read within {@link #MAX_HEADER_BYTES}. */
    private static final class Members implements AutoCloseable {
        private final HeaderBudget budget;
        private final TarArchiveInputStream tar;
        private int count;

        Members(Path source) throws IOException {
            InputStream in = Files.newInputStream(source, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
            this.budget = new HeaderBudget(new BufferedInputStream(in, 1 << 20));
            this.tar = new TarArchiveInputStream(budget);
        }

        /** The next member, or null at the end; at most 2 + 1 + {@link ExportManifest#MAX_DISKS} of them. */
        TarArchiveEntry next() throws IOException {
            budget.arm(MAX_HEADER_BYTES);
            try {
                TarArchiveEntry e = tar.getNextEntry();
                if (e != null && ++count > 3 + ExportManifest.MAX_DISKS) {
                    throw invalid("the export file has more than " + (3 + ExportManifest.MAX_DISKS) + " members");
                }
                return e;
            } finally {
                budget.disarm();
            }
        }

        InputStream stream() {
            return tar;
        }

        @Override
        public void close() throws IOException {
            tar.close();
        }
    }

    /** Counts the bytes read while a header is parsed and refuses more than the budget. */
    private static final class HeaderBudget extends FilterInputStream {
        private long left = Long.MAX_VALUE;

        HeaderBudget(InputStream in) {
            super(in);
        }

        void arm(long bytes) {
            left = bytes;
        }

        void disarm() {
            left = Long.MAX_VALUE;
        }

        private void spend(long n) throws IOException {
            if (n > 0 && (left -= n) < 0) {
                throw new IOException("a member header is larger than " + MAX_HEADER_BYTES + " bytes");
            }
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            spend(b < 0 ? 0 : 1);
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, (int) Math.min(len, Math.max(1, Math.min(left, Integer.MAX_VALUE))));
            spend(n);
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = super.skip(Math.min(n, Math.max(1, left)));
            spend(skipped);
            return skipped;
        }
    }
}
