package org.carevisor.agent.storage;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.ExportRequest;
import org.carevisor.protocol.ExportResult;
import org.carevisor.protocol.ProtocolJson;
import org.carevisor.qemu.ImageChain;
import org.carevisor.qemu.ProcessRunner;
import org.carevisor.qemu.QemuException;
import org.carevisor.qemu.QemuImg;

/**
 * Writes Carevisor export files: a tar (pax format, so disks may exceed 8 GiB) holding {@code manifest.json}
 * (the VM definition plus every disk's size and SHA-256), {@code manifest.json.sha256} and
 * {@code disks/<id>.<format>} (independent images, backing chains flattened), in this order. GNU tar packs the
 * files the agent made itself in a fresh directory. Reading (a file from outside) is {@link ExportReader}'s.
 * Thread-safe (stateless).
 */
final class ExportPacker {
    static final String MANIFEST = "manifest.json";
    static final String MANIFEST_SUM = "manifest.json.sha256";
    static final int FORMAT_VERSION = 1;
    private static final Duration TAR_LIMIT = Duration.ofHours(6);

    private final QemuImg qemuImg;

    ExportPacker(QemuImg qemuImg) {
        this.qemuImg = qemuImg;
    }

    /**
     * Packs the disks (flattened from their checked chains, each read and written with its recorded format) and the
     * manifest into {@code target}; {@code work} is an empty scratch directory.
     */
    ExportResult pack(ExportRequest request, Path target, List<ImageChain> sources, Path work, String relativeTarget)
            throws IOException {
        Files.createDirectories(work.resolve("disks"));
        List<ExportResult.ExportedDisk> disks = new ArrayList<>();
        ArrayNode diskNodes = ProtocolJson.mapper().createArrayNode();
        java.util.Set<String> members0 = new java.util.HashSet<>();
        for (int i = 0; i < request.disks().size(); i++) {
            ExportRequest.Disk d = request.disks().get(i);
            String member = ExportNames.member(d.id(), d.format());
            if (!members0.add(d.id())) {
                throw AgentException.badRequest("invalid-disk-id", "disk id '" + d.id() + "' is given twice");
            }
            Path flat = work.resolve(member);
            try {
                qemuImg.convert(sources.get(i), flat, d.format());
            } catch (QemuException e) {
                throw new AgentException(500, "export-failed", e.getMessage());
            }
            String sha = Sha256.of(flat);
            long virtual = qemuImg.info(ImageChain.single(flat, d.format())).virtualSize();
            disks.add(new ExportResult.ExportedDisk(d.id(), member, d.format(), virtual, Files.size(flat), sha));
            diskNodes.addObject().put("id", d.id()).put("file", member).put("format", d.format())
                    .put("virtualSizeBytes", virtual).put("bytes", Files.size(flat)).put("sha256", sha);
        }
        if (!(ProtocolJson.mapper().readTree(request.manifest()) instanceof ObjectNode manifest)) {
            throw AgentException.badRequest("invalid-manifest", "the manifest to export must be a JSON object");
        }
        manifest.put("exportFormatVersion", FORMAT_VERSION);
        manifest.set("disks", diskNodes);
        byte[] manifestBytes = ProtocolJson.mapper().writerWithDefaultPrettyPrinter().writeValueAsBytes(manifest);
        Files.write(work.resolve(MANIFEST), manifestBytes);
        Files.writeString(work.resolve(MANIFEST_SUM), Sha256.of(manifestBytes) + "  " + MANIFEST + "\n");
        List<String> members = new ArrayList<>(List.of(MANIFEST, MANIFEST_SUM));
        disks.forEach(d -> members.add(d.file()));
        Path partial = target.resolveSibling("." + target.getFileName() + ".partial");
        List<String> tar = new ArrayList<>(List.of("tar", "--format=pax", "-cf", partial.toString(),
                "-C", work.toString(), "--"));
        tar.addAll(members);
        run(tar, "packing the export");
        Files.move(partial, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return new ExportResult(relativeTarget, Files.size(target), Sha256.of(target), disks);
    }

    private static String firstLine(String s) {
        return s.lines().filter(l -> !l.isBlank()).findFirst().orElse("no message").strip();
    }

    private static void run(List<String> cmd, String what) {
        ProcessRunner.Result r = ProcessRunner.run(cmd, TAR_LIMIT);
        if (!r.ok()) {
            throw new AgentException(500, "export-failed", what + " failed: " + firstLine(r.stderr()));
        }
    }
}
