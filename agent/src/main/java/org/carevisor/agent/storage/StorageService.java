package org.carevisor.agent.storage;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.DiskCreateRequest;
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

    private final Path root;
    private final QemuImg qemuImg;
    private final Map<Path, Cached> infoCache = new ConcurrentHashMap<>();

    private record Cached(long size, long modified, ImageInfo info) {
    }

    public StorageService(Path root, QemuImg qemuImg) throws IOException {
        this.root = root.toAbsolutePath().normalize();
        this.qemuImg = qemuImg;
        Files.createDirectories(this.root.resolve("images"));
        Files.createDirectories(this.root.resolve("vms"));
    }

    public Path root() {
        return root;
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
        if (needed > freeBytes()) {
            throw new AgentException(507, "storage-full", "disk " + request.path() + " needs " + needed
                    + " bytes but only " + freeBytes() + " are free on " + root);
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
                    // A relative backing path keeps working when the storage is mounted elsewhere.
                    Path backing = target.getParent().relativize(source);
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

    /** Deletes the disk directory {@code vms/<vmId>/} with every file in it. */
    public void deleteVmDisks(String vmId) throws IOException {
        Path dir = resolve("vms/" + vmId);
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private Path resolve(String relative) {
        try {
            return QemuCommandLine.resolveInStorage(root, relative);
        } catch (QemuException e) {
            throw AgentException.badRequest("invalid-path", e.getMessage());
        }
    }
}
