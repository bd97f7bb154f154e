package org.carevisor.agent.storage;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.carevisor.agent.AgentException;

/**
 * The part of an export manifest the agent relies on, parsed and checked: the format version and each
 * disk's id, member name, format, sizes and SHA-256. Anything else in the manifest is the manager's business
 * (it checks the VM definition itself). Every problem is a 422 {@code invalid-export} naming the manifest
 * field; no other exception leaves {@link #parse}. Immutable and thread-safe.
 *
 * @param version the export format version
 * @param disks   the disks in the order of the manifest
 */
public record ExportManifest(int version, List<Disk> disks) {
    /** The largest manifest an agent reads (a real one is a few KiB). */
    public static final int MAX_BYTES = 1 << 20;
    /** At most this many disks (a VM has at most 8). */
    public static final int MAX_DISKS = 8;
    /** The largest virtual size of an imported disk (64 TiB). */
    public static final long MAX_VIRTUAL_BYTES = 64L << 40;
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final ObjectMapper STRICT = JsonMapper.builder(JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(32)
                            .maxStringLength(MAX_BYTES).maxNumberLength(32).build()).build())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** One disk of the manifest. {@code file} is always {@code disks/<id>.<format>}. */
    public record Disk(String id, String file, String format, long virtualSizeBytes, long bytes, String sha256) {
    }

    public ExportManifest {
        disks = List.copyOf(disks);
    }

    /** Parses and checks a manifest; 422 {@code invalid-export} naming the field when anything is off. */
    public static ExportManifest parse(byte[] json) {
        if (json == null || json.length > MAX_BYTES) {
            throw invalid("manifest.json is larger than " + MAX_BYTES + " bytes");
        }
        JsonNode root;
        try {
            root = STRICT.readTree(json);
        } catch (IOException | RuntimeException e) {
            throw invalid("manifest.json is not valid JSON: " + ExportNames.printable(firstLine(e.getMessage())));
        }
        if (root == null || !root.isObject()) {
            throw invalid("manifest.json must hold a JSON object");
        }
        JsonNode v = root.get("exportFormatVersion");
        if (v == null || !v.isInt()) {
            throw invalid("manifest field exportFormatVersion is missing or not a number");
        }
        if (v.intValue() != ExportPacker.FORMAT_VERSION) {
            throw invalid("export format version " + v.intValue() + " is not supported (this agent reads version "
                    + ExportPacker.FORMAT_VERSION + ")");
        }
        JsonNode list = root.get("disks");
        if (list == null || !list.isArray()) {
            throw invalid("manifest field disks must be a list");
        }
        if (list.size() > MAX_DISKS) {
            throw invalid("manifest field disks lists " + list.size() + " disks; at most " + MAX_DISKS);
        }
        List<Disk> disks = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            String f = "disks[" + i + "]";
            JsonNode d = list.get(i);
            if (!d.isObject()) {
                throw invalid("manifest field " + f + " must be an object");
            }
            String id = text(d, f + ".id");
            if (!ExportNames.isDiskId(id)) {
                throw invalid("manifest field " + f + ".id '" + ExportNames.printable(id) + "' must be a letter"
                        + " followed by at most 30 letters, digits, '_' or '-'");
            }
            if (!ids.add(id)) {
                throw invalid("manifest field " + f + ".id '" + id + "' names a disk twice");
            }
            String format = text(d, f + ".format");
            if (!ExportNames.isFormat(format)) {
                throw invalid("manifest field " + f + ".format must be qcow2 or raw, not '"
                        + ExportNames.printable(format) + "'");
            }
            String file = text(d, f + ".file");
            String expected = "disks/" + id + "." + format;
            if (!expected.equals(file)) {
                throw invalid("manifest field " + f + ".file must be " + expected + ", not '"
                        + ExportNames.printable(file) + "'");
            }
            long virtual = number(d, f + ".virtualSizeBytes", 1, MAX_VIRTUAL_BYTES);
            long bytes = number(d, f + ".bytes", 0, MAX_VIRTUAL_BYTES + (1L << 40));
            String sha = text(d, f + ".sha256");
            if (sha == null || !SHA256.matcher(sha).matches()) {
                throw invalid("manifest field " + f + ".sha256 must be 64 lower-case hex digits");
            }
            disks.add(new Disk(id, file, format, virtual, bytes, sha));
        }
        return new ExportManifest(v.intValue(), disks);
    }

    private static String text(JsonNode d, String field) {
        JsonNode n = d.get(field.substring(field.lastIndexOf('.') + 1));
        if (n == null || !n.isTextual()) {
            throw invalid("manifest field " + field + " is missing or not a string");
        }
        return n.textValue();
    }

    private static long number(JsonNode d, String field, long min, long max) {
        JsonNode n = d.get(field.substring(field.lastIndexOf('.') + 1));
        if (n == null || !n.canConvertToLong() || !n.isIntegralNumber()) {
            throw invalid("manifest field " + field + " is missing or not a whole number");
        }
        long value = n.longValue();
        if (value < min || value > max) {
            throw invalid("manifest field " + field + " is " + value + "; it must be between " + min + " and " + max);
        }
        return value;
    }

    private static String firstLine(String s) {
        return s == null ? "no message" : s.lines().findFirst().orElse("no message");
    }

    static AgentException invalid(String why) {
        return new AgentException(422, "invalid-export", why);
    }
}
