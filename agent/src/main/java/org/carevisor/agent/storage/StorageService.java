package org.carevisor.agent.storage;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
import org.carevisor.qemu.ImageChain;
import org.carevisor.qemu.ImageChains;
import org.carevisor.qemu.QemuCommandLine;
import org.carevisor.qemu.QemuException;
import org.carevisor.qemu.QemuImg;

/**
 * The host's storage root: an image library under {@code images/} and VM disks under {@code vms/<id>/}.
 * Disks are created under a temporary name and renamed when complete, so a failure leaves nothing
 * half-made. Every existing image is opened with the format Carevisor recorded for it, after its backing chain was
 * checked ({@link DiskImages}); qemu-img never guesses a format nor follows a backing file name by itself.
 * Thread-safe.
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
    private final DiskImages images;
    private final ImageLibrary library;
    private final ExportPacker packer;
    private final ExportReader reader;
    private final ImportedImageCheck imageCheck;

    /**
     * The storage of a host: {@code root} is shared with the other hosts of its cluster, {@code localRoot}
     * (may be null) belongs to this host only.
     */
    public StorageService(Path root, Path localRoot, QemuImg qemuImg) throws IOException {
        this.root = root.toAbsolutePath().normalize();
        this.localRoot = localRoot == null ? null : localRoot.toAbsolutePath().normalize();
        this.qemuImg = qemuImg;
        this.images = new DiskImages(this.root, this.localRoot);
        this.library = new ImageLibrary(this.root, images, qemuImg);
        this.packer = new ExportPacker(qemuImg);
        this.reader = new ExportReader();
        this.imageCheck = new ImportedImageCheck(qemuImg);
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
            return freeOf(Files.getFileStore(localRoot).getUsableSpace());
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
            return freeOf(store().getUsableSpace());
        } catch (IOException e) {
            return 0;
        }
    }

    /** What Carevisor may use of {@code usable} bytes: all but the {@link #RESERVE_BYTES} it never fills. */
    public static long freeOf(long usable) {
        return Math.max(0, usable - RESERVE_BYTES);
    }

    private FileStore store() throws IOException {
        return Files.getFileStore(root);
    }

    /** Usable images in {@code images/} (qcow2, raw, img), sorted by name; see {@link ImageLibrary}. */
    public List<ImageInfo> images() throws IOException {
        return library.list();
    }

    /** The description of an image Carevisor made or checked, read with its known format. */
    private ImageInfo describe(Path p, String format) throws IOException {
        try {
            return ImageLibrary.imageInfo(root, p, format, qemuImg.info(ImageChain.single(p, format)));
        } catch (QemuException e) {
            throw new AgentException(500, "image-unreadable", e.getMessage());
        }
    }

    /**
     * Creates a disk as asked; refuses an existing target and a disk that does not fit. A source (COPY, LINKED) is
     * opened with the format the request gives for it, after its chain was checked; a linked disk backs only onto
     * a template base image in {@code templates/}.
     */
    public ImageInfo createDisk(DiskCreateRequest request) throws IOException {
        Path target = resolve(request.path());
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw AgentException.conflict("disk-exists", "disk " + request.path() + " already exists");
        }
        String format = request.format() == null ? "qcow2" : request.format();
        if (!format.equals("qcow2") && !format.equals("raw")) {
            throw AgentException.badRequest("invalid-format", "disk format must be qcow2 or raw, not " + format);
        }
        if (request.mode() == DiskCreateRequest.Mode.LINKED && !format.equals("qcow2")) {
            throw AgentException.badRequest("invalid-format", "a linked disk must be qcow2");
        }
        Path source = request.mode() == DiskCreateRequest.Mode.BLANK ? null : resolve(request.sourcePath());
        if (source != null && !Files.isRegularFile(source, LinkOption.NOFOLLOW_LINKS)) {
            throw AgentException.badRequest("source-missing", "source image " + request.sourcePath()
                    + " does not exist");
        }
        if (request.mode() == DiskCreateRequest.Mode.LINKED && (isLocal(request.sourcePath())
                || !source.startsWith(root.resolve(ImageChains.BACKING_DIR)))) {
            throw AgentException.badRequest("invalid-backing", "a linked disk backs only onto a template base image"
                    + " in " + ImageChains.BACKING_DIR + "/, not " + request.sourcePath());
        }
        ImageChain sourceChain = source == null ? null
                : images.check("source image " + request.sourcePath(), source, request.sourceFormat());
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
                case BLANK -> qemuImg.create(partial, format, request.sizeBytes());
                case COPY -> {
                    qemuImg.convert(sourceChain, partial, format);
                    growIfAsked(ImageChain.single(partial, format), request.sizeBytes());
                }
                case LINKED -> {
                    // A relative backing path keeps working when the storage is mounted elsewhere; from local
                    // storage to a shared base image the path is absolute (the two are mounted independently).
                    String backing = (isLocal(request.path()) ? source : target.getParent().relativize(source))
                            .toString();
                    long size = Math.max(request.sizeBytes(), qemuImg.info(sourceChain).virtualSize());
                    qemuImg.createOverlay(partial, backing, sourceChain, size);
                    // the new overlay passes the same check as every disk before QEMU opens it
                    images.check("new disk " + request.path(), partial, "qcow2");
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
        return describe(target, format);
    }

    private void growIfAsked(ImageChain image, long sizeBytes) {
        if (sizeBytes > 0 && sizeBytes > qemuImg.info(image).virtualSize()) {
            qemuImg.resize(image, sizeBytes);
        }
    }

    /**
     * Creates, applies or deletes an internal snapshot in disk files no running QEMU has open; every disk is a qcow2
     * disk (see {@link DiskSnapshotRequest}) and its chain is checked first.
     */
    public void diskSnapshot(DiskSnapshotRequest request) {
        QemuImg.SnapshotOp op = QemuImg.SnapshotOp.valueOf(request.op().name());
        String tag;
        List<ImageChain> files = new ArrayList<>();
        try {
            tag = org.carevisor.qemu.QemuCommandLine.checkSnapshotTag(request.tag());
        } catch (QemuException e) {
            throw AgentException.badRequest(e.code(), e.getMessage());
        }
        checkCount(request.paths());
        for (String p : request.paths()) {
            Path file = resolve(p);
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                throw AgentException.badRequest("disk-missing", "disk " + p + " does not exist");
            }
            files.add(images.check("disk " + p, file, "qcow2"));
        }
        if (op == QemuImg.SnapshotOp.APPLY || op == QemuImg.SnapshotOp.DELETE) {
            for (ImageChain file : files) {
                if (!qemuImg.snapshotTags(file).contains(tag)) {
                    throw AgentException.conflict("snapshot-missing", "disk " + root.relativize(file.file())
                            + " has no snapshot " + tag);
                }
            }
        }
        try {
            for (ImageChain file : files) {
                qemuImg.snapshot(file, op, tag);
            }
        } catch (QemuException e) {
            throw new AgentException(500, "snapshot-failed", e.getMessage());
        }
    }

    /**
     * Renames a disk image within the storage, or writes an independent flattened copy of it (keeping the
     * source), read-only or writable. The target appears only when complete. The image is checked with the format
     * the request gives; only a stand-alone image is renamed (an overlay is copied, flattened).
     */
    public ImageInfo move(FileMoveRequest request) throws IOException {
        Path from = resolve(request.from());
        Path to = resolve(request.to());
        if (!Files.isRegularFile(from, LinkOption.NOFOLLOW_LINKS)) {
            throw AgentException.badRequest("source-missing", "image " + request.from() + " does not exist");
        }
        if (Files.exists(to, LinkOption.NOFOLLOW_LINKS)) {
            throw AgentException.conflict("target-exists", "image " + request.to() + " already exists");
        }
        String what = "image " + request.from();
        ImageChain chain = request.copy() ? images.check(what, from, request.format())
                : images.standAlone(what, from, request.format());
        Files.createDirectories(to.getParent());
        Path partial = to.resolveSibling("." + to.getFileName() + ".partial");
        Files.deleteIfExists(partial);
        try {
            if (request.copy()) {
                qemuImg.convert(chain, partial, chain.format());
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
        return describe(to, chain.format());
    }

    /** SHA-256 of each file. */
    public ChecksumResult checksums(ChecksumRequest request) throws IOException {
        java.util.Map<String, String> sums = new java.util.LinkedHashMap<>();
        checkCount(request.paths());
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

    /** Writes an export file (see {@link ExportPacker}) to {@code exports/<name>.cva} or {@code archive/<id>.cva}. */
    public ExportResult export(ExportRequest request) throws IOException {
        if (request.disks().size() > ExportManifest.MAX_DISKS) {
            throw AgentException.badRequest("invalid-export-request", "at most " + ExportManifest.MAX_DISKS
                    + " disks can be exported");
        }
        Path target = resolve(ExportNames.exportTarget(request.target()));
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw AgentException.conflict("target-exists", "export file " + request.target() + " already exists");
        }
        List<ImageChain> sources = new ArrayList<>();
        long needed = 0;
        for (ExportRequest.Disk d : request.disks()) {
            ExportNames.member(d.id(), d.format());
            Path source = resolve(d.path());
            if (!Files.isRegularFile(source, LinkOption.NOFOLLOW_LINKS)) {
                throw AgentException.badRequest("disk-missing", "disk " + d.path() + " does not exist");
            }
            String what = "disk " + d.id() + " (" + d.path() + ")";
            ImageChain chain = images.check(what, source, d.format());
            if (d.format().equals("raw")) {
                DiskImages.requireRawLooksRaw(what, source);
            }
            sources.add(chain);
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

    /** The verified manifest of an export file in {@code exports/} or {@code archive/}, without reading its disks. */
    public ImportResult inspect(ImportRequest request) {
        Path source = importSource(request);
        return new ImportResult(reader.inspect(source).json(), List.of());
    }

    /**
     * Unpacks and verifies an export file from {@code exports/} (or {@code archive/} for a restore); its disks
     * end up in {@code targetDir} ({@code vms/<vm-id>}), or nothing does. The file is read once
     * ({@link ExportReader}) into a fresh scratch directory beside the target, every disk is checked
     * ({@link ImportedImageCheck}) and the directory is renamed into place only when all is well.
     */
    public ImportResult importFile(ImportRequest request) throws IOException {
        Path targetDir = resolve(ExportNames.importTarget(request.targetDir()));
        Path source = importSource(request);
        if (Files.exists(targetDir, LinkOption.NOFOLLOW_LINKS)) {
            throw AgentException.conflict("target-exists", request.targetDir() + " already exists");
        }
        long free = isLocal(request.targetDir()) ? localFreeBytes() : freeBytes();
        if (Files.size(source) > free) {
            throw new AgentException(507, "storage-full", "importing " + request.source() + " needs about "
                    + Files.size(source) + " bytes but only " + free + " are free");
        }
        Files.createDirectories(targetDir.getParent());
        Path work = targetDir.resolveSibling(".import-" + java.util.UUID.randomUUID());
        Files.createDirectory(work, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
        try {
            ExportReader.Unpacked unpacked = reader.unpack(source, work, free);
            List<ImportResult.ImportedDisk> placed = new ArrayList<>();
            for (var e : unpacked.files().entrySet()) {
                ExportManifest.Disk d = e.getKey();
                imageCheck.check(e.getValue(), d);
                placed.add(new ImportResult.ImportedDisk(d.id(), request.targetDir() + "/" + e.getValue().getFileName(),
                        d.format(), d.virtualSizeBytes(), d.sha256()));
            }
            Files.setPosixFilePermissions(work, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.move(work, targetDir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return new ImportResult(unpacked.manifest().json(), placed);
        } finally {
            FileTrees.delete(work);
        }
    }

    /** The export file an import reads: only in {@code exports/} or {@code archive/}, a regular file, no link. */
    private Path importSource(ImportRequest request) {
        Path source = resolve(ExportNames.importSource(request.source()));
        if (!Files.isRegularFile(source, LinkOption.NOFOLLOW_LINKS)) {
            throw AgentException.badRequest("file-missing", "export file " + request.source()
                    + (Files.isSymbolicLink(source) ? " is a symbolic link; an import reads only a regular file"
                    : " does not exist"));
        }
        return source;
    }

    /** Deletes the disk directory {@code vms/<vmId>/} (shared and local) with every file in it. */
    public void deleteVmDisks(String vmId) throws IOException {
        FileTrees.delete(resolve("vms/" + vmId));
        if (localRoot != null) {
            FileTrees.delete(resolve(org.carevisor.qemu.QemuHostConfig.LOCAL_PREFIX + "vms/" + vmId));
        }
    }

    /** The most paths one request may name. */
    public static final int MAX_PATHS = 64;

    private static void checkCount(List<String> paths) {
        if (paths == null || paths.size() > MAX_PATHS) {
            throw AgentException.badRequest("too-many-paths", "a request names 1-" + MAX_PATHS + " paths");
        }
    }

    private Path resolve(String relative) {
        if (relative != null && relative.length() > 1024) {
            throw AgentException.badRequest("invalid-path", "a storage path has at most 1024 characters");
        }
        try {
            return QemuCommandLine.resolveDisk(root, localRoot, relative);
        } catch (QemuException e) {
            throw AgentException.badRequest("invalid-path", e.getMessage());
        }
    }
}
