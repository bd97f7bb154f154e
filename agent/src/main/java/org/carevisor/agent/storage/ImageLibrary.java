package org.carevisor.agent.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.ImageInfo;
import org.carevisor.qemu.ImageChain;
import org.carevisor.qemu.ImageHeader;
import org.carevisor.qemu.QemuException;
import org.carevisor.qemu.QemuImg;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The image library: the files an operator puts into {@code images/} ({@code .qcow2}, {@code .raw}, {@code .img}).
 * Their format is the one place where nothing Carevisor recorded says it, so the agent decides it itself from the
 * file's first bytes ({@link ImageHeader#lookalike}; qemu-img never probes): a qcow2 header makes it qcow2, no other
 * image signature makes it raw. A file of any other format, with a backing file, an external data file or
 * encryption, or a symbolic link, is not offered (logged once per version of the file, with the reason). The format
 * seen is reported, recorded by the manager and given explicitly to every later operation. Thread-safe.
 */
final class ImageLibrary {
    private static final Logger LOG = LoggerFactory.getLogger(ImageLibrary.class);

    private final Path root;
    private final DiskImages images;
    private final QemuImg qemuImg;
    private final Map<Path, Cached> cache = new ConcurrentHashMap<>();

    /** What was found for one version (size, modification time) of a file: an image, or why it is not offered. */
    private record Cached(long size, long modified, ImageInfo info, String unusable) {
    }

    ImageLibrary(Path root, DiskImages images, QemuImg qemuImg) {
        this.root = root;
        this.images = images;
        this.qemuImg = qemuImg;
    }

    /** The usable images in {@code images/}, sorted by name. */
    List<ImageInfo> list() throws IOException {
        List<ImageInfo> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(root.resolve("images"))) {
            for (Path p : files.sorted().toList()) {
                String name = p.getFileName().toString();
                String lower = name.toLowerCase(Locale.ROOT);
                if (name.startsWith(".") || !(lower.endsWith(".qcow2") || lower.endsWith(".raw")
                        || lower.endsWith(".img"))) {
                    continue;
                }
                ImageInfo info = describe(p);
                if (info != null) {
                    out.add(info);
                }
            }
        }
        return out;
    }

    private ImageInfo describe(Path p) throws IOException {
        if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            return remember(p, -1, -1, null, Files.isSymbolicLink(p) ? "it is a symbolic link" : "it is not a file");
        }
        long size = Files.size(p);
        long modified = Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toMillis();
        Cached c = cache.get(p);
        if (c != null && c.size == size && c.modified == modified) {
            return c.info;
        }
        String what = "image " + root.relativize(p);
        String seen;
        try {
            seen = ImageHeader.lookalike(ImageHeader.head(p));
        } catch (QemuException e) {
            return remember(p, size, modified, null, e.getMessage());
        }
        String format = seen == null ? "raw" : seen;
        if (!format.equals("qcow2") && !format.equals("raw")) {
            return remember(p, size, modified, null, "it is a " + format + " image; the library offers qcow2 and raw"
                    + " images only (convert it: qemu-img convert -f " + format + " -O qcow2 ...)");
        }
        ImageChain chain;
        QemuImg.Info info;
        try {
            chain = images.standAlone(what, p, format);
            info = qemuImg.info(chain);
        } catch (AgentException e) {
            return remember(p, size, modified, null, e.getMessage());
        } catch (QemuException e) {
            throw new AgentException(500, "image-unreadable", e.getMessage());
        }
        return remember(p, size, modified, imageInfo(root, p, format, info), null);
    }

    private ImageInfo remember(Path p, long size, long modified, ImageInfo info, String unusable) {
        Cached before = cache.put(p, new Cached(size, modified, info, unusable));
        if (unusable != null && (before == null || !unusable.equals(before.unusable))) {
            LOG.warn("image library: {} is not offered: {}", root.relativize(p), unusable);
        }
        return info;
    }

    /** The protocol's description of an image file of {@code format}. */
    static ImageInfo imageInfo(Path root, Path file, String format, QemuImg.Info info) throws IOException {
        String fileName = file.getFileName().toString();
        String name = fileName.contains(".") ? fileName.substring(0, fileName.lastIndexOf('.')) : fileName;
        return new ImageInfo(name, root.relativize(file).toString(), format, info.virtualSize(), info.actualSize(),
                info.backingFile(), Files.getLastModifiedTime(file, LinkOption.NOFOLLOW_LINKS).toInstant());
    }
}
