package org.carevisor.testkit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Writes export files (.cva) the way an attacker would: any member names, types (links, devices, FIFOs),
 * sizes and manifest values, with a manifest checksum that matches (so the checks behind it are reached).
 * For the import attack tests on both sides. Not thread-safe (a builder).
 */
public final class CraftedExport {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One tar member as it will be written. */
    public record Member(String name, byte type, byte[] data, String linkName, long declaredSize) {
        public static Member file(String name, byte[] data) {
            return new Member(name, TarConstants.LF_NORMAL, data, null, -1);
        }

        public static Member of(String name, byte type, String linkName) {
            return new Member(name, type, new byte[0], linkName, -1);
        }
    }

    private final List<Member> members = new ArrayList<>();
    private int longFileMode = TarArchiveOutputStream.LONGFILE_POSIX;

    /** Adds {@code manifest} as manifest.json with a matching manifest.json.sha256. */
    public CraftedExport manifest(ObjectNode manifest) {
        byte[] bytes = bytes(manifest);
        return manifestBytes(bytes);
    }

    /** Adds these bytes as manifest.json with a matching manifest.json.sha256. */
    public CraftedExport manifestBytes(byte[] bytes) {
        members.add(Member.file("manifest.json", bytes));
        members.add(Member.file("manifest.json.sha256", (sha256(bytes) + "  manifest.json\n")
                .getBytes(StandardCharsets.UTF_8)));
        return this;
    }

    public CraftedExport member(Member m) {
        members.add(m);
        return this;
    }

    public CraftedExport file(String name, byte[] data) {
        return member(Member.file(name, data));
    }

    /** Writes long names as GNU long-name entries instead of pax headers. */
    public CraftedExport gnuLongNames() {
        longFileMode = TarArchiveOutputStream.LONGFILE_GNU;
        return this;
    }

    public void write(Path target) throws IOException {
        Files.write(target, toBytes());
    }

    public byte[] toBytes() throws IOException {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(buffer)) {
            tar.setLongFileMode(longFileMode);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            for (Member m : members) {
                TarArchiveEntry e = new TarArchiveEntry(m.name(), m.type(), true);
                if (m.linkName() != null) {
                    e.setLinkName(m.linkName());
                }
                if (m.type() == TarConstants.LF_NORMAL || m.type() == TarConstants.LF_OLDNORM) {
                    e.setSize(m.data().length);
                }
                e.setMode(m.type() == TarConstants.LF_DIR ? 0755 : 0644);
                tar.putArchiveEntry(e);
                if (e.getSize() > 0) {
                    tar.write(m.data());
                }
                tar.closeArchiveEntry();
            }
            tar.finish();
        }
        return buffer.toByteArray();
    }

    /** A manifest as Carevisor writes it, for one VM with the given disks (each {id, format, image bytes}). */
    public static ObjectNode manifestFor(String vmId, String vmName, List<Disk> disks) {
        ObjectNode m = JSON.createObjectNode();
        m.put("kind", "carevisor-vm");
        m.put("exportedAt", "2026-01-01T00:00:00Z");
        m.put("exportedBy", "attacker");
        m.put("managerVersion", "0.1.0");
        ObjectNode vm = m.putObject("vm");
        vm.put("id", vmId);
        vm.put("name", vmName);
        vm.put("cpus", 1);
        vm.put("memoryMiB", 64);
        vm.put("machine", "pc");
        vm.put("cpuModel", "qemu64");
        ArrayNode nics = vm.putArray("nics");
        nics.addObject().put("id", "nic0").put("mac", "52:54:00:aa:bb:01").put("network", "user")
                .putArray("forwards").addObject().put("protocol", "tcp").put("guestPort", 80);
        m.put("exportFormatVersion", 1);
        ArrayNode list = m.putArray("disks");
        for (Disk d : disks) {
            list.addObject().put("id", d.id()).put("file", "disks/" + d.id() + "." + d.format())
                    .put("format", d.format()).put("virtualSizeBytes", d.virtualSizeBytes())
                    .put("bytes", d.image().length).put("sha256", sha256(d.image()));
        }
        return m;
    }

    /** A disk of a crafted manifest: its id, format, virtual size and the member's bytes. */
    public record Disk(String id, String format, long virtualSizeBytes, byte[] image) {
    }

    public static byte[] bytes(ObjectNode manifest) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(manifest);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
