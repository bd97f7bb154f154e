package org.carevisor.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Walks a disk image's backing chain before QEMU or qemu-img opens it, reading the qcow2 headers itself
 * ({@link ImageHeader}); nothing is guessed and nothing named by a header is opened before it passed. An image must
 * be the format Carevisor recorded for it ({@code qcow2} or {@code raw}: a raw image's content is never
 * interpreted), a regular file reached without a symbolic link, neither encrypted nor with an external data file.
 * A backing file must be named by a plain path (no {@code json:} or {@code protocol:} pseudo-file name: no ':' at
 * all), with its format recorded in the header (QEMU would otherwise probe it), and lie in {@code templates/} of the
 * shared storage root - the only backing files Carevisor makes are template base images of linked clones - and the
 * chain holds at most {@link #MAX_BACKING_FILES} backing files and no loop. A refusal is a {@link QemuException}
 * with code {@code backing-file-refused} or {@code disk-image-refused} naming the disk and the bad file. Thread-safe
 * (stateless).
 */
public final class ImageChains {
    /** The most backing files a chain may have (Carevisor's own chains have at most one: a template base). */
    public static final int MAX_BACKING_FILES = 8;
    /** The directory of the shared storage root that holds every backing file: template base images. */
    public static final String BACKING_DIR = "templates";

    private final Path root;
    private final Path localRoot;

    /** The chains of a host's storage: {@code storageRoot} shared, {@code localRoot} (may be null) this host's. */
    public ImageChains(Path storageRoot, Path localRoot) {
        this.root = storageRoot.toAbsolutePath().normalize();
        this.localRoot = localRoot == null ? null : localRoot.toAbsolutePath().normalize();
    }

    /** The chains of the storage a QEMU host configuration names. */
    public static ImageChains of(QemuHostConfig host) {
        return new ImageChains(host.storageRoot(), host.localStorageRoot());
    }

    /**
     * Resolves {@code relative} (a storage path as in a VM spec, see {@link QemuCommandLine#resolveDisk}) and
     * checks the chain of the image there, recorded as {@code format}; {@code what} names the disk in errors (e.g.
     * "disk disk0 of VM 1234").
     */
    public ImageChain check(String what, String relative, String format) {
        return check(what, QemuCommandLine.resolveDisk(root, localRoot, relative), format);
    }

    /** Checks the chain of the image at {@code file} (already resolved inside a storage root) recorded as {@code format}. */
    public ImageChain check(String what, Path file, String format) {
        if (!"qcow2".equals(format) && !"raw".equals(format)) {
            throw refused("disk-image-refused", what + " is recorded with format '" + printable(format)
                    + "'; only qcow2 and raw images are opened");
        }
        List<ImageChain.Link> links = new ArrayList<>();
        Set<Object> seen = new HashSet<>();
        Path current = file;
        String currentFormat = format;
        while (true) {
            String label = links.isEmpty() ? what + " (" + shown(current) + ")"
                    : what + ": backing file " + shown(current);
            Object key = regularFile(current, label, links.isEmpty() ? "disk-image-refused" : "backing-file-refused");
            if (!seen.add(key)) {
                throw refused("backing-file-refused", label + " is already part of the chain (a loop)");
            }
            links.add(new ImageChain.Link(current, currentFormat, key));
            if (currentFormat.equals("raw")) {
                break;
            }
            ImageHeader.Qcow2 h = ImageHeader.readQcow2(current, label);
            if (h.encrypted()) {
                throw refused("disk-image-refused", label + " is encrypted; Carevisor opens no encrypted image");
            }
            if (h.externalDataFile() || h.dataFile() != null) {
                throw refused("disk-image-refused", label + " has an external data file"
                        + (h.dataFile() == null ? "" : " '" + printable(h.dataFile()) + "'")
                        + "; its data would be read from and written to another file");
            }
            if (h.backingFile() == null) {
                break;
            }
            if (links.size() > MAX_BACKING_FILES) {
                throw refused("backing-file-refused", what + " has more than " + MAX_BACKING_FILES
                        + " backing files");
            }
            String name = h.backingFile();
            String bad = badName(name);
            if (bad != null) {
                throw refused("backing-file-refused", label + " names the backing file '" + printable(name)
                        + "', which is refused: " + bad);
            }
            if (!"qcow2".equals(h.backingFormat()) && !"raw".equals(h.backingFormat())) {
                throw refused("backing-file-refused", label + " names the backing file '" + printable(name) + "' "
                        + (h.backingFormat() == null ? "without its format (QEMU would guess it)"
                        : "of format '" + printable(h.backingFormat()) + "'") + "; a backing file must be recorded"
                        + " as qcow2 or raw");
            }
            current = backingPath(label, current, name);
            currentFormat = h.backingFormat();
        }
        return new ImageChain(links);
    }

    /** Why {@code name} is not a plain path, or null. */
    private static String badName(String name) {
        if (name.isEmpty()) {
            return "the name is empty";
        }
        if (name.startsWith("json:")) {
            return "a 'json:' pseudo-file name would let the header choose any driver and file";
        }
        if (name.indexOf(':') >= 0) {
            return "a ':' could make QEMU read it as a protocol (nbd:, ssh:, file:, ...); plain paths have none";
        }
        if (name.chars().anyMatch(c -> c < 0x20 || c == 0x7f || c == 0xfffd)) {
            return "it holds control characters or is not UTF-8";
        }
        return null;
    }

    /**
     * Where backing file {@code name} of {@code overlay} is, as QEMU resolves it (relative to the overlay's
     * directory); refused unless it is in {@code templates/} of the shared storage root, reached without a symbolic
     * link.
     */
    private Path backingPath(String label, Path overlay, String name) {
        Path target;
        try {
            target = (Path.of(name).isAbsolute() ? Path.of(name) : overlay.getParent().resolve(name)).normalize();
        } catch (java.nio.file.InvalidPathException e) {
            throw refused("backing-file-refused", label + " names the backing file '" + printable(name)
                    + "', which is not a valid path");
        }
        Path templates = root.resolve(BACKING_DIR);
        Path inTemplates = null;
        if (target.startsWith(templates) && !target.equals(templates)) {
            inTemplates = templates.relativize(target);
        } else {
            Path realTemplates = realRoot().resolve(BACKING_DIR);
            if (target.startsWith(realTemplates) && !target.equals(realTemplates)) {
                inTemplates = realTemplates.relativize(target);
            }
        }
        if (inTemplates == null) {
            throw refused("backing-file-refused", label + " names the backing file '" + printable(name) + "' ("
                    + target + "), outside " + templates + "; a backing file must be a template base image in the"
                    + " shared storage");
        }
        try {
            return QemuCommandLine.resolveInStorage(root, BACKING_DIR + "/" + inTemplates);
        } catch (QemuException e) {
            throw refused("backing-file-refused", label + " names the backing file '" + printable(name)
                    + "', which is refused: " + e.getMessage());
        }
    }

    private Path realRoot() {
        try {
            return root.toRealPath();
        } catch (IOException e) {
            return root;
        }
    }

    /** The file's identity (device and inode); refuses a symbolic link, a missing file and anything not a file. */
    private static Object regularFile(Path file, String label, String code) {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw refused(code, label + " does not exist");
        }
        if (a.isSymbolicLink()) {
            throw refused(code, label + " is a symbolic link; the agent follows none inside the storage");
        }
        if (!a.isRegularFile()) {
            throw refused(code, label + " is not a regular file");
        }
        return a.fileKey();
    }

    private String shown(Path file) {
        if (file.startsWith(root)) {
            return root.relativize(file).toString();
        }
        if (localRoot != null && file.startsWith(localRoot)) {
            return QemuHostConfig.LOCAL_PREFIX + localRoot.relativize(file);
        }
        return file.toString();
    }

    /** {@code s} with control characters shown as '?' and at most 200 characters, for error messages. */
    static String printable(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder();
        s.codePoints().limit(200).forEach(c -> out.appendCodePoint(c < 0x20 || c == 0x7f ? '?' : c));
        return s.codePointCount(0, s.length()) > 200 ? out + "..." : out.toString();
    }

    private static QemuException refused(String code, String why) {
        return new QemuException(code, why);
    }
}
