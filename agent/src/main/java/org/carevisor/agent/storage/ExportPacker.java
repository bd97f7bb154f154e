package org.carevisor.agent.storage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.ExportRequest;
import org.carevisor.protocol.ExportResult;
import org.carevisor.protocol.ImportResult;
import org.carevisor.protocol.ProtocolJson;
import org.carevisor.qemu.ProcessRunner;
import org.carevisor.qemu.QemuException;
import org.carevisor.qemu.QemuImg;

/**
 * Writes and reads Carevisor export files: a tar (pax format, so disks may exceed 8 GiB) holding
 * {@code manifest.json} (the VM definition plus every disk's size and SHA-256), {@code manifest.json.sha256}
 * and {@code disks/<id>.<format>} (independent images, backing chains flattened). Reading lists the members
 * first and refuses any unexpected name, then unpacks into a fresh directory and verifies every checksum and
 * size; a truncated or altered file is refused with the member named, and nothing is left behind.
 */
final class ExportPacker {
    static final String MANIFEST = "manifest.json";
    static final String MANIFEST_SUM = "manifest.json.sha256";
    static final int FORMAT_VERSION = 1;
    private static final Pattern DISK_MEMBER = Pattern.compile("disks/[A-Za-z][A-Za-z0-9_.-]{0,30}\\.(qcow2|raw)");
    private static final Duration TAR_LIMIT = Duration.ofHours(6);

    private final QemuImg qemuImg;

    ExportPacker(QemuImg qemuImg) {
        this.qemuImg = qemuImg;
    }

    /** Packs the disks (flattened) and manifest into {@code target}; {@code work} is an empty scratch directory. */
    ExportResult pack(ExportRequest request, Path target, List<Path> sources, Path work, String relativeTarget)
            throws IOException {
        Files.createDirectories(work.resolve("disks"));
        List<ExportResult.ExportedDisk> disks = new ArrayList<>();
        ArrayNode diskNodes = ProtocolJson.mapper().createArrayNode();
        for (int i = 0; i < request.disks().size(); i++) {
            ExportRequest.Disk d = request.disks().get(i);
            String member = "disks/" + d.id() + "." + d.format();
            if (!DISK_MEMBER.matcher(member).matches()) {
                throw AgentException.badRequest("invalid-disk-id", "disk id '" + d.id() + "' cannot be exported");
            }
            Path flat = work.resolve(member);
            try {
                qemuImg.convert(sources.get(i), flat, d.format());
            } catch (QemuException e) {
                throw new AgentException(500, "export-failed", e.getMessage());
            }
            String sha = Sha256.of(flat);
            long virtual = qemuImg.info(flat).virtualSize();
            disks.add(new ExportResult.ExportedDisk(d.id(), member, d.format(), virtual, Files.size(flat), sha));
            diskNodes.addObject().put("id", d.id()).put("file", member).put("format", d.format())
                    .put("virtualSizeBytes", virtual).put("bytes", Files.size(flat)).put("sha256", sha);
        }
        ObjectNode manifest = (ObjectNode) ProtocolJson.mapper().readTree(request.manifest());
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

    /**
     * Unpacks and verifies {@code source} into {@code work} (an empty directory), returning the manifest and
     * the verified disks (paths inside {@code work}). Throws with a clear reason when anything is off.
     */
    Unpacked unpack(Path source, Path work) throws IOException {
        ProcessRunner.Result list = ProcessRunner.run(List.of("tar", "-tf", source.toString()), TAR_LIMIT);
        if (!list.ok()) {
            throw unreadable(list);
        }
        Set<String> members = new HashSet<>();
        for (String name : list.stdout().lines().toList()) {
            if (!name.equals(MANIFEST) && !name.equals(MANIFEST_SUM) && !name.equals("disks/")
                    && !DISK_MEMBER.matcher(name).matches()) {
                throw invalid("unexpected member '" + name + "' in the export file");
            }
            members.add(name);
        }
        if (!members.contains(MANIFEST) || !members.contains(MANIFEST_SUM)) {
            throw invalid("the export file has no " + MANIFEST + " and " + MANIFEST_SUM);
        }
        ProcessRunner.Result x = ProcessRunner.run(List.of("tar", "-xf", source.toString(), "-C", work.toString(),
                "--no-same-owner", "--no-same-permissions"), TAR_LIMIT);
        if (!x.ok()) {
            throw unreadable(x);
        }
        byte[] manifestBytes = verifiedManifest(work);
        JsonNode manifest = ProtocolJson.mapper().readTree(manifestBytes);
        if (manifest.path("exportFormatVersion").asInt() != FORMAT_VERSION) {
            throw invalid("export format version " + manifest.path("exportFormatVersion").asText()
                    + " is not supported (this agent reads version " + FORMAT_VERSION + ")");
        }
        List<ImportResult.ImportedDisk> disks = new ArrayList<>();
        for (JsonNode d : manifest.path("disks")) {
            String member = d.path("file").asText();
            if (!DISK_MEMBER.matcher(member).matches() || !members.contains(member)) {
                throw invalid("disk " + d.path("id").asText() + " (" + member + ") is missing from the export file");
            }
            Path file = work.resolve(member);
            long bytes = Files.size(file);
            if (bytes != d.path("bytes").asLong()) {
                throw invalid(member + " is truncated or altered: " + bytes + " bytes instead of "
                        + d.path("bytes").asLong());
            }
            String sha = Sha256.of(file);
            if (!sha.equals(d.path("sha256").asText())) {
                throw invalid(member + " was altered: SHA-256 " + sha + " does not match the manifest's "
                        + d.path("sha256").asText());
            }
            disks.add(new ImportResult.ImportedDisk(d.path("id").asText(), member, d.path("format").asText(),
                    d.path("virtualSizeBytes").asLong(), sha));
        }
        return new Unpacked(new String(manifestBytes, StandardCharsets.UTF_8), disks);
    }

    /**
     * Reads and verifies only the manifest of an export file (the first members; the disks are not read), so
     * a caller can decide before unpacking. {@code work} is an empty directory.
     */
    String inspect(Path source, Path work) throws IOException {
        ProcessRunner.Result x = ProcessRunner.run(List.of("tar", "-xf", source.toString(), "-C", work.toString(),
                "--occurrence=1", "--no-same-owner", "--no-same-permissions", MANIFEST, MANIFEST_SUM), TAR_LIMIT);
        if (!x.ok() || !Files.isRegularFile(work.resolve(MANIFEST)) || !Files.isRegularFile(work.resolve(MANIFEST_SUM))) {
            throw invalid("the file is not a readable Carevisor export (" + firstLine(x.stderr()) + ")");
        }
        return new String(verifiedManifest(work), StandardCharsets.UTF_8);
    }

    /** The manifest's bytes after checking them against the SHA-256 written beside them. */
    private static byte[] verifiedManifest(Path work) throws IOException {
        byte[] manifestBytes = Files.readAllBytes(work.resolve(MANIFEST));
        String expected = Files.readString(work.resolve(MANIFEST_SUM), StandardCharsets.UTF_8).strip().split("\\s+")[0];
        if (!Sha256.of(manifestBytes).equals(expected)) {
            throw invalid(MANIFEST + " was altered: its SHA-256 does not match " + MANIFEST_SUM);
        }
        return manifestBytes;
    }

    /** A verified unpacked export: manifest and disks (paths relative to the work directory). */
    record Unpacked(String manifest, List<ImportResult.ImportedDisk> disks) {
    }

    /** Why tar could not read the file: truncated (it ends early) or not an export at all. */
    private static AgentException unreadable(ProcessRunner.Result tar) {
        String message = firstLine(tar.stderr());
        return invalid(message.contains("Unexpected EOF")
                ? "the export file is truncated: it ends before its last member (" + message + ")"
                : "the file is not a readable Carevisor export (" + message + ")");
    }

    private static AgentException invalid(String why) {
        return new AgentException(422, "invalid-export", why);
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
