package org.carevisor.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.carevisor.protocol.ProtocolJson;

/**
 * Image operations through {@code qemu-img}. Every operation is given the image's format: an existing image as an
 * {@link ImageChain} (checked by {@link ImageChains}, or made by Carevisor), a new one with its format, so qemu-img
 * never probes a format nor follows a backing file name from a header. Thread-safe (stateless).
 */
public final class QemuImg {
    /** What {@code qemu-img info} says about an image. */
    public record Info(String format, long virtualSize, long actualSize, String backingFile) {
    }

    private static final Duration QUICK = Duration.ofSeconds(60);
    private static final Duration COPY = Duration.ofHours(6);

    private final String binary;

    public QemuImg(String binary) {
        this.binary = binary;
    }

    /** Creates an empty image of {@code format} ({@code qcow2} or {@code raw}). */
    public void create(Path target, String format, long sizeBytes) {
        List<String> argv = new ArrayList<>(List.of(binary, "create", "-q", "-f", format));
        if ("qcow2".equals(format)) {
            argv.add("-o");
            argv.add(QCOW2_OPTIONS);
        }
        argv.add(target.toString());
        argv.add(Long.toString(sizeBytes));
        check(ProcessRunner.run(argv, QUICK), "create " + target);
    }

    /**
     * Creates a qcow2 overlay of {@code sizeBytes} on the checked chain {@code backing}, naming it in the header as
     * {@code backingName} (a path relative to the overlay's directory, or absolute) with its format
     * ({@code -F}). qemu-img does not open the backing file ({@code -u}): its size is the caller's to give.
     */
    public void createOverlay(Path target, String backingName, ImageChain backing, long sizeBytes) {
        List<String> argv = List.of(binary, "create", "-q", "-f", "qcow2", "-u", "-b", backingName,
                "-F", backing.format(), "-o", QCOW2_OPTIONS, target.toString(), Long.toString(sizeBytes));
        check(ProcessRunner.run(argv, QUICK), "create " + target);
    }

    private static final String QCOW2_OPTIONS = "cluster_size=65536,lazy_refcounts=on";

    /**
     * Copies an image with its whole chain into an independent one of {@code format} (backing chains flattened).
     * The source is given node by node ({@link ImageChain#qemuImgSpec}), so qemu-img guesses no format and reads
     * no backing file name from a header.
     */
    public void convert(ImageChain source, Path target, String format) {
        List<String> argv = List.of(binary, "convert", "-q", "-W", "-m", "8", "-O", format,
                source.qemuImgSpec(true), target.toString());
        check(ProcessRunner.run(argv, COPY), "convert " + source.file() + " to " + target);
    }

    /** Grows an image to {@code sizeBytes} (its backing files are not opened). */
    public void resize(ImageChain image, long sizeBytes) {
        check(ProcessRunner.run(List.of(binary, "resize", "-q", image.qemuImgSpec(false),
                Long.toString(sizeBytes)), QUICK), "resize " + image.file());
    }

    /** Operations on internal snapshots of an image that no running VM uses. */
    public enum SnapshotOp {
        CREATE("-c"), APPLY("-a"), DELETE("-d");

        private final String flag;

        SnapshotOp(String flag) {
            this.flag = flag;
        }
    }

    /** Creates, applies (reverts the image to) or deletes an internal snapshot; backing files are not opened. */
    public void snapshot(ImageChain image, SnapshotOp op, String tag) {
        check(ProcessRunner.run(List.of(binary, "snapshot", op.flag, tag, image.qemuImgSpec(false)), COPY),
                "snapshot " + op.name().toLowerCase(java.util.Locale.ROOT) + " " + tag + " of " + image.file());
    }

    /** Tags of the internal snapshots of an image. */
    public List<String> snapshotTags(ImageChain image) {
        ProcessRunner.Result r = ProcessRunner.run(List.of(binary, "snapshot", "-U", "-l",
                image.qemuImgSpec(false)), QUICK);
        check(r, "snapshot list of " + image.file());
        List<String> tags = new ArrayList<>();
        for (String line : r.stdout().lines().toList()) {
            String[] cols = line.strip().split("\\s+");
            if (cols.length >= 2 && cols[0].chars().allMatch(Character::isDigit) && !cols[0].isEmpty()) {
                tags.add(cols[1]);
            }
        }
        return tags;
    }

    /**
     * Reads an image's format, sizes and the backing file name its header records, with the format Carevisor knows
     * and without opening a backing file; works while a VM uses the image.
     */
    public Info info(ImageChain image) {
        ProcessRunner.Result r = ProcessRunner.run(List.of(binary, "info", "-U", "--output=json",
                image.qemuImgSpec(false)), QUICK);
        check(r, "info " + image.file());
        try {
            JsonNode node = ProtocolJson.mapper().readTree(r.stdout());
            return new Info(node.path("format").asText(), node.path("virtual-size").asLong(),
                    node.path("actual-size").asLong(),
                    node.hasNonNull("backing-filename") ? node.get("backing-filename").asText() : null);
        } catch (IOException e) {
            throw new QemuException("qemu-img-failed", "cannot parse qemu-img info of " + image.file() + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * What {@code qemu-img info} says about an image that came from outside (an import): read with the format
     * it claims ({@code -f}, QEMU never probes), without opening a backing file, under resource limits
     * ({@code prlimit --as --cpu}, as OpenStack does for untrusted images) and a time limit.
     *
     * @param dataFile the qcow2 external data file the image names, or null
     */
    public record UntrustedInfo(String format, long virtualSize, String backingFile, String dataFile) {
    }

    /** Address-space limit for {@code qemu-img info} of an untrusted image (a crafted header cannot eat memory). */
    public static final long UNTRUSTED_ADDRESS_SPACE = 1L << 30;
    /** CPU seconds {@code qemu-img info} may use on an untrusted image. */
    public static final int UNTRUSTED_CPU_SECONDS = 30;

    /** Reads an untrusted image as {@code claimedFormat} (see {@link UntrustedInfo}). */
    public UntrustedInfo untrustedInfo(Path image, String claimedFormat) {
        ProcessRunner.Result r = ProcessRunner.run(List.of("prlimit", "--as=" + UNTRUSTED_ADDRESS_SPACE,
                "--cpu=" + UNTRUSTED_CPU_SECONDS, "--", binary, "info", "-f", claimedFormat, "--output=json",
                image.toString()), QUICK);
        check(r, "info -f " + claimedFormat + " " + image.getFileName());
        try {
            JsonNode node = ProtocolJson.mapper().readTree(r.stdout());
            JsonNode data = node.path("format-specific").path("data");
            return new UntrustedInfo(node.path("format").asText(), node.path("virtual-size").asLong(-1),
                    node.hasNonNull("backing-filename") ? node.get("backing-filename").asText() : null,
                    data.hasNonNull("data-file") ? data.get("data-file").asText() : null);
        } catch (IOException e) {
            throw new QemuException("qemu-img-failed", "cannot parse qemu-img info of " + image.getFileName() + ": "
                    + e.getMessage(), e);
        }
    }

    private static void check(ProcessRunner.Result r, String what) {
        if (!r.ok()) {
            String err = r.stderr().isBlank() ? r.stdout() : r.stderr();
            throw new QemuException("qemu-img-failed", "qemu-img " + what + " failed: " + err.strip());
        }
    }
}
