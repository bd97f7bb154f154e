package org.carevisor.agent.storage;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.ChecksumRequest;
import org.carevisor.protocol.ChecksumResult;
import org.carevisor.protocol.DiskCreateRequest;
import org.carevisor.protocol.DiskSnapshotRequest;
import org.carevisor.protocol.ExportRequest;
import org.carevisor.protocol.ExportResult;
import org.carevisor.protocol.FileMoveRequest;
import org.carevisor.protocol.ImportRequest;
import org.carevisor.protocol.ImportResult;
import org.carevisor.protocol.ImageInfo;
import org.carevisor.qemu.QemuCommandLine;
import org.carevisor.qemu.QemuException;
import org.carevisor.qemu.QemuImg;

/**
 * The host's storage root: an image library under {@code images/} and VM disks under {@code vms/<id>/}.
 * Disks are created under a temporary name and renamed when complete, so a failure leaves nothing
 * half-made. Thread-safe.
 */
public final class StorageService {
    /** Disk space kept free for QEMU and the host; a disk that would eat into it is refused. */
    public static final long RESERVE_BYTES = 256L << 20;

    /** The file in a shared storage root that names its storage domain. */
    public static final String DOMAIN_FILE = ".carevisor-domain";

    private final Path root;
    private final Path localRoot;
    private final String domainId;
    private final QemuImg qemuImg;
    private final Map<Path, Cached> infoCache = new ConcurrentHashMap<>();
    private final ExportPacker packer;

    private record Cached(long size, long modified, ImageInfo info) {
    }

    /**
     * The storage of a host: {@code root} is shared with the other hosts of its cluster, {@code localRoot}
     * (may be null) belongs to this host only.
     */
    public StorageService(Path root, Path localRoot, QemuImg qemuImg) throws IOException {
        this.root = root.toAbsolutePath().normalize();
        this.localRoot = localRoot == null ? null : localRoot.toAbsolutePath().normalize();
        this.qemuImg = qemuImg;
        this.packer = new ExportPacker(qemuImg);
        Files.createDirectories(this.root.resolve("images"));
        Files.createDirectories(this.root.resolve("vms"));
        if (this.localRoot != null) {
            Files.createDirectories(this.localRoot.resolve("vms"));
        }
        this.domainId = StorageDomain.loadOrCreate(this.root.resolve(DOMAIN_FILE));
    }

    public Path root() {
        return root;
    }

    public Path localRoot() {
        return localRoot;
    }

    /** The id of the shared storage domain: every host that mounts the same storage reports the same id. */
    public String domainId() {
        return domainId;
    }

    /** Free bytes on the local storage (0 without one). */
    public long localFreeBytes() {
        if (localRoot == null) {
            return 0;
        }
        try {
            return Math.max(0, Files.getFileStore(localRoot).getUsableSpace() - RESERVE_BYTES);
        } catch (IOException e) {
            return 0;
        }
    }

    private long freeBytesFor(String relative) {
        return isLocal(relative) ? localFreeBytes() : freeBytes();
    }

    private static boolean isLocal(String relative) {
        return relative != null && relative.startsWith(org.carevisor.qemu.QemuHostConfig.LOCAL_PREFIX);
    }

    public long freeBytes() {
        try {
            return Math.max(0, store().getUsableSpace() - RESERVE_BYTES);
        } catch (IOException e) {
            return 0;
        }
    }

    public long totalBytes() {
        try {
            return store().getTotalSpace();
        } catch (IOException e) {
            return 0;
        }
    }

    private FileStore store() throws IOException {
        return Files.getFileStore(root);
    }

    /** Images in {@code images/} (qcow2, raw, img), sorted by name. */
    public List<ImageInfo> images() throws IOException {
        List<ImageInfo> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(root.resolve("images"))) {
            for (Path p : files.sorted().toList()) {
                String name = p.getFileName().toString();
                String lower = name.toLowerCase(Locale.ROOT);
                if (name.startsWith(".") || !Files.isRegularFile(p)
                        || !(lower.endsWith(".qcow2") || lower.endsWith(".raw") || lower.endsWith(".img"))) {
                    continue;
                }
                out.add(describe(p));
            }
        }
        return out;
    }

    private ImageInfo describe(Path p) throws IOException {
        long size = Files.size(p);
        long modified = Files.getLastModifiedTime(p).toMillis();
        Cached c = infoCache.get(p);
        if (c != null && c.size == size && c.modified == modified) {
            return c.info;
        }
        QemuImg.Info info;
        try {
            info = qemuImg.info(p);
        } catch (QemuException e) {
            throw new AgentException(500, "image-unreadable", e.getMessage());
        }
        String fileName = p.getFileName().toString();
        String name = fileName.contains(".") ? fileName.substring(0, fileName.lastIndexOf('.')) : fileName;
        ImageInfo image = new ImageInfo(name, root.relativize(p).toString(), info.format(), info.virtualSize(),
                info.actualSize(), info.backingFile(), Files.getLastModifiedTime(p).toInstant());
        infoCache.put(p, new Cached(size, modified, image));
        return image;
    }

    /** Creates a disk as asked; refuses an existing target and a disk that does not fit. */
    public ImageInfo createDisk(DiskCreateRequest request) throws IOException {
        Path target = resolve(request.path());
        if (Files.exists(target)) {
            throw AgentException.conflict("disk-exists", "disk " + request.path() + " already exists");
        }
        String format = request.format() == null ? "qcow2" : request.format();
        if (!format.equals("qcow2") && !format.equals("raw")) {
            throw AgentException.badRequest("invalid-format", "disk format must be qcow2 or raw, not " + format);
        }
        Path source = request.mode() == DiskCreateRequest.Mode.BLANK ? null : resolve(request.sourcePath());
        if (source != null && !Files.isRegularFile(source)) {
            throw AgentException.badRequest("source-missing", "source image " + request.sourcePath()
                    + " does not exist");
        }
        long needed = switch (request.mode()) {
            case BLANK -> format.equals("raw") ? request.sizeBytes() : 1L << 20;
            case COPY -> Files.size(source);
            case LINKED -> 1L << 20;
        };
        long free = freeBytesFor(request.path());
        if (needed > free) {
            throw new AgentException(507, "storage-full", "disk " + request.path() + " needs " + needed
                    + " bytes but only " + free + " are free on " + (isLocal(request.path()) ? localRoot : root));
        }
        Files.createDirectories(target.getParent());
        Path partial = target.resolveSibling("." + target.getFileName() + ".partial");
        Files.deleteIfExists(partial);
        try {
            switch (request.mode()) {
                case BLANK -> qemuImg.create(partial, format, request.sizeBytes(), null, null);
                case COPY -> {
                    qemuImg.convert(source, partial, format);
                    growIfAsked(partial, format, request.sizeBytes());
                }
                case LINKED -> {
                    if (!format.equals("qcow2")) {
                        throw AgentException.badRequest("invalid-format", "a linked disk must be qcow2");
                    }
                    // A relative backing path keeps working when the storage is mounted elsewhere; from local
                    // storage to a shared base image the path is absolute (the two are mounted independently).
                    Path backing = isLocal(request.path()) != isLocal(request.sourcePath()) ? source
                            : target.getParent().relativize(source);
                    String sourceFormat = qemuImg.info(source).format();
                    qemuImg.create(partial, "qcow2", 0, backing, sourceFormat);
                    growIfAsked(partial, format, request.sizeBytes());
                }
                default -> throw new IllegalStateException();
            }
            Files.move(partial, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (QemuException e) {
            Files.deleteIfExists(partial);
            throw new AgentException(500, "disk-create-failed", e.getMessage());
        } catch (RuntimeException | IOException e) {
            Files.deleteIfExists(partial);
            throw e;
        }
        return describe(target);
    }

    private void growIfAsked(Path image, String format, long sizeBytes) {
        if (sizeBytes > 0 && sizeBytes > qemuImg.info(image).virtualSize()) {
            qemuImg.resize(image, format, sizeBytes);
        }
    }

    /** Creates, applies or deletes an internal snapshot in disk files no running QEMU has open. */
    public void diskSnapshot(DiskSnapshotRequest request) {
        QemuImg.SnapshotOp op = QemuImg.SnapshotOp.valueOf(request.op().name());
        String tag;
        List<Path> files = new ArrayList<>();
        try {
            tag = org.carevisor.qemu.QemuCommandLine.checkSnapshotTag(request.tag());
        } catch (QemuException e) {
            throw AgentException.badRequest(e.code(), e.getMessage());
        }
        for (String p : request.paths()) {
            Path file = resolve(p);
            if (!Files.isRegularFile(file)) {
                throw AgentException.badRequest("disk-missing", "disk " + p + " does not exist");
            }
            files.add(file);
        }
        if (op == QemuImg.SnapshotOp.APPLY || op == QemuImg.SnapshotOp.DELETE) {
            for (Path file : files) {
                if (!qemuImg.snapshotTags(file).contains(tag)) {
                    throw AgentException.conflict("snapshot-missing", "disk " + root.relativize(file)
                            + " has no snapshot " + tag);
                }
            }
        }
        try {
            for (Path file : files) {
                qemuImg.snapshot(file, op, tag);
            }
        } catch (QemuException e) {
            throw new AgentException(500, "snapshot-failed", e.getMessage());
        }
    }

    /**
     * Renames a disk image within the storage, or writes an independent flattened copy of it (keeping the
     * source), read-only or writable. The target appears only when complete.
     */
    public ImageInfo move(FileMoveRequest request) throws IOException {
        Path from = resolve(request.from());
        Path to = resolve(request.to());
        if (!Files.isRegularFile(from)) {
            throw AgentException.badRequest("source-missing", "image " + request.from() + " does not exist");
        }
        if (Files.exists(to)) {
            throw AgentException.conflict("target-exists", "image " + request.to() + " already exists");
        }
        Files.createDirectories(to.getParent());
        Path partial = to.resolveSibling("." + to.getFileName() + ".partial");
        Files.deleteIfExists(partial);
        try {
            if (request.copy()) {
                qemuImg.convert(from, partial, qemuImg.info(from).format());
            } else {
                Files.move(from, partial, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
            Files.setPosixFilePermissions(partial, java.nio.file.attribute.PosixFilePermissions.fromString(
                    request.readOnly() ? "r--r--r--" : "rw-r--r--"));
            Files.move(partial, to, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            // Leave the source as it was: a renamed file goes back, a partial copy is removed.
            if (!request.copy() && Files.exists(partial) && !Files.exists(from)) {
                Files.move(partial, from, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            } else {
                Files.deleteIfExists(partial);
            }
            if (e instanceof QemuException q) {
                throw new AgentException(500, "move-failed", q.getMessage());
            }
            throw e;
        }
        return describe(to);
    }

    /** SHA-256 of each file. */
    public ChecksumResult checksums(ChecksumRequest request) throws IOException {
        java.util.Map<String, String> sums = new java.util.LinkedHashMap<>();
        for (String p : request.paths()) {
            Path file = resolve(p);
            if (!Files.isRegularFile(file)) {
                throw AgentException.badRequest("file-missing", "file " + p + " does not exist");
            }
            sums.put(p, Sha256.of(file));
        }
        return new ChecksumResult(sums);
    }

    /** Deletes a file or a directory tree below a top-level storage directory (never a top-level one). */
    public void delete(String relative) throws IOException {
        Path target = resolve(relative);
        if (root.relativize(target).getNameCount() < 2) {
            throw AgentException.badRequest("invalid-path", "refusing to delete the top-level directory " + relative);
        }
        FileTrees.delete(target);
    }

    /** Writes an export file (see {@link ExportPacker}). */
    public ExportResult export(ExportRequest request) throws IOException {
        Path target = resolve(request.target());
        if (Files.exists(target)) {
            throw AgentException.conflict("target-exists", "export file " + request.target() + " already exists");
        }
        List<Path> sources = new ArrayList<>();
        long needed = 0;
        for (ExportRequest.Disk d : request.disks()) {
            Path source = resolve(d.path());
            if (!Files.isRegularFile(source)) {
                throw AgentException.badRequest("disk-missing", "disk " + d.path() + " does not exist");
            }
            sources.add(source);
            needed += Files.size(source);
        }
        if (2 * needed > freeBytes()) {
            throw new AgentException(507, "storage-full", "exporting needs about " + 2 * needed
                    + " bytes of scratch and file space but only " + freeBytes() + " are free on " + root);
        }
        Files.createDirectories(target.getParent());
        Path work = target.resolveSibling(".export-" + java.util.UUID.randomUUID());
        try {
            return packer.pack(request, target, sources, work, request.target());
        } finally {
            FileTrees.delete(work);
        }
    }

    /** The verified manifest of an export file, without unpacking its disks. */
    public ImportResult inspect(ImportRequest request) throws IOException {
        Path source = resolve(request.source());
        if (!Files.isRegularFile(source)) {
            throw AgentException.badRequest("file-missing", "export file " + request.source() + " does not exist");
        }
        Path work = source.resolveSibling(".inspect-" + java.util.UUID.randomUUID());
        Files.createDirectories(work);
        try {
            return new ImportResult(packer.inspect(source, work), List.of());
        } finally {
            FileTrees.delete(work);
        }
    }

    /** Unpacks and verifies an export file; its disks end up in {@code targetDir}, or nothing does. */
    public ImportResult importFile(ImportRequest request) throws IOException {
        Path source = resolve(request.source());
        Path targetDir = resolve(request.targetDir());
        if (!Files.isRegularFile(source)) {
            throw AgentException.badRequest("file-missing", "export file " + request.source() + " does not exist");
        }
        if (Files.exists(targetDir)) {
            throw AgentException.conflict("target-exists", request.targetDir() + " already exists");
        }
        if (2 * Files.size(source) > freeBytes()) {
            throw new AgentException(507, "storage-full", "importing " + request.source() + " needs about "
                    + 2 * Files.size(source) + " bytes but only " + freeBytes() + " are free on " + root);
        }
        Path work = targetDir.resolveSibling(".import-" + java.util.UUID.randomUUID());
        Files.createDirectories(work);
        try {
            ExportPacker.Unpacked unpacked = packer.unpack(source, work);
            Path staged = work.resolve("staged");
            Files.createDirectories(staged);
            List<ImportResult.ImportedDisk> placed = new ArrayList<>();
            for (ImportResult.ImportedDisk d : unpacked.disks()) {
                String fileName = d.id() + "." + d.format();
                Files.move(work.resolve(d.path()), staged.resolve(fileName));
                placed.add(new ImportResult.ImportedDisk(d.id(), root.relativize(targetDir.resolve(fileName)).toString(),
                        d.format(), d.virtualSizeBytes(), d.sha256()));
            }
            Files.createDirectories(targetDir.getParent());
            Files.move(staged, targetDir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return new ImportResult(unpacked.manifest(), placed);
        } finally {
            FileTrees.delete(work);
        }
    }

    /** Deletes the disk directory {@code vms/<vmId>/} (shared and local) with every file in it. */
    public void deleteVmDisks(String vmId) throws IOException {
        FileTrees.delete(resolve("vms/" + vmId));
        if (localRoot != null) {
            FileTrees.delete(resolve(org.carevisor.qemu.QemuHostConfig.LOCAL_PREFIX + "vms/" + vmId));
        }
    }

    private Path resolve(String relative) {
        try {
            return QemuCommandLine.resolveDisk(root, localRoot, relative);
        } catch (QemuException e) {
            throw AgentException.badRequest("invalid-path", e.getMessage());
        }
    }
}
