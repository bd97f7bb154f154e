package org.carevisor.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.carevisor.protocol.ProtocolJson;

/** Image operations through {@code qemu-img}. Thread-safe (stateless). */
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

    /** Creates an empty image, or a qcow2 overlay when {@code backing} is given (size 0 keeps its size). */
    public void create(Path target, String format, long sizeBytes, Path backing, String backingFormat) {
        List<String> argv = new ArrayList<>(List.of(binary, "create", "-q", "-f", format));
        if (backing != null) {
            argv.add("-b");
            argv.add(backing.toString());
            argv.add("-F");
            argv.add(backingFormat);
        }
        if ("qcow2".equals(format)) {
            argv.add("-o");
            argv.add("cluster_size=65536,lazy_refcounts=on");
        }
        argv.add(target.toString());
        if (sizeBytes > 0) {
            argv.add(Long.toString(sizeBytes));
        }
        check(ProcessRunner.run(argv, QUICK), "create " + target);
    }

    /** Copies an image into an independent one of the given format (backing chains are flattened). */
    public void convert(Path source, Path target, String format) {
        List<String> argv = List.of(binary, "convert", "-q", "-W", "-m", "8", "-O", format, source.toString(),
                target.toString());
        check(ProcessRunner.run(argv, COPY), "convert " + source + " to " + target);
    }

    /** Grows an image to {@code sizeBytes}. */
    public void resize(Path image, String format, long sizeBytes) {
        check(ProcessRunner.run(List.of(binary, "resize", "-q", "-f", format, image.toString(),
                Long.toString(sizeBytes)), QUICK), "resize " + image);
    }

    /** Operations on internal snapshots of an image that no running VM uses. */
    public enum SnapshotOp {
        CREATE("-c"), APPLY("-a"), DELETE("-d");

        private final String flag;

        SnapshotOp(String flag) {
            this.flag = flag;
        }
    }

    /** Creates, applies (reverts the image to) or deletes an internal snapshot. */
    public void snapshot(Path image, SnapshotOp op, String tag) {
        check(ProcessRunner.run(List.of(binary, "snapshot", op.flag, tag, image.toString()), COPY),
                "snapshot " + op.name().toLowerCase(java.util.Locale.ROOT) + " " + tag + " of " + image);
    }

    /** Tags of the internal snapshots of an image. */
    public List<String> snapshotTags(Path image) {
        ProcessRunner.Result r = ProcessRunner.run(List.of(binary, "snapshot", "-U", "-l", image.toString()), QUICK);
        check(r, "snapshot list of " + image);
        List<String> tags = new ArrayList<>();
        for (String line : r.stdout().lines().toList()) {
            String[] cols = line.strip().split("\\s+");
            if (cols.length >= 2 && cols[0].chars().allMatch(Character::isDigit) && !cols[0].isEmpty()) {
                tags.add(cols[1]);
            }
        }
        return tags;
    }

    /** Reads an image's format, sizes and backing file; works while a VM uses the image. */
    public Info info(Path image) {
        ProcessRunner.Result r = ProcessRunner.run(List.of(binary, "info", "-U", "--output=json", image.toString()),
                QUICK);
        check(r, "info " + image);
        try {
            JsonNode node = ProtocolJson.mapper().readTree(r.stdout());
            return new Info(node.path("format").asText(), node.path("virtual-size").asLong(),
                    node.path("actual-size").asLong(),
                    node.hasNonNull("backing-filename") ? node.get("backing-filename").asText() : null);
        } catch (IOException e) {
            throw new QemuException("qemu-img-failed", "cannot parse qemu-img info of " + image + ": "
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
