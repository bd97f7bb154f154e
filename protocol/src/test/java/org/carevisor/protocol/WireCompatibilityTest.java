package org.carevisor.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Wire compatibility of the agent protocol. Every record that crosses the wire has a golden JSON document of protocol
 * version 1 ({@code src/test/resources/wire/v1/}), written once from {@link WireSamples} and never rewritten: an
 * agent of an older release sends what those files hold, and a manager of this release must read it, and the other
 * way round. A field that is renamed, removed or changes its type fails here; a new field passes (the peer of the
 * older release ignores it, and reads the older document with the field missing). A new record gets its golden file
 * at the first run with {@code UPDATE_GOLDEN=1}.
 */
class WireCompatibilityTest {
    private static final Path DIR = Path.of("src/test/resources/wire/v" + Protocol.VERSION);
    private static final ObjectMapper JSON = ProtocolJson.mapper();

    static Stream<Class<?>> records() {
        return WireSamples.records().stream();
    }

    @ParameterizedTest
    @MethodSource("records")
    void theGoldenDocumentOfVersionOneIsReadAndNothingInItIsLost(Class<?> type) throws IOException {
        Path file = DIR.resolve(fileName(type));
        if (!Files.exists(file) && "1".equals(System.getenv("UPDATE_GOLDEN"))) {
            Files.createDirectories(DIR);
            Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(WireSamples.sample(type))
                    + "\n", StandardCharsets.UTF_8);
        }
        assertThat(file).as("golden document %s (a new record: run once with UPDATE_GOLDEN=1 to write it)", file)
                .exists();
        JsonNode golden = JSON.readTree(file.toFile());
        Object read = JSON.treeToValue(golden, type);
        JsonNode again = JSON.valueToTree(read);
        assertThat(missing(golden, again, "")).as("fields of %s written by a version 1 peer that this release loses"
                + " or changes when it reads and writes them again", file.getFileName()).isEmpty();
    }

    @ParameterizedTest
    @MethodSource("records")
    void aNewerPeersExtraFieldsAreIgnored(Class<?> type) throws IOException {
        ObjectNode doc = (ObjectNode) JSON.valueToTree(WireSamples.sample(type));
        doc.put("fieldOfANewerRelease", "x");
        doc.putObject("objectOfANewerRelease").put("a", 1);
        assertThat(JSON.treeToValue(doc, type)).isEqualTo(WireSamples.sample(type));
    }

    @Test
    void everyGoldenDocumentBelongsToARecordOfTheProtocol() throws IOException {
        List<String> known = WireSamples.records().stream().map(WireCompatibilityTest::fileName).toList();
        try (Stream<Path> files = Files.list(DIR)) {
            assertThat(files.map(p -> p.getFileName().toString()).toList())
                    .as("a golden document whose record was removed: a version 1 peer still sends it").allMatch(
                            known::contains);
        }
    }

    @Test
    void everyRecordOfTheProtocolPackageIsCovered() throws IOException {
        List<String> sources = new ArrayList<>();
        try (Stream<Path> files = Files.walk(Path.of("src/main/java/org/carevisor/protocol"))) {
            for (Path p : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                String text = Files.readString(p);
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("public record (\\w+)\\(").matcher(text);
                while (m.find()) {
                    sources.add(m.group(1));
                }
            }
        }
        assertThat(WireSamples.records().stream().map(Class::getSimpleName).toList())
                .as("WireSamples.records() lists every record of the protocol").containsAll(sources);
    }

    /** {@code VmSpec.json}, {@code ExportRequest.Disk.json} for a nested record. */
    private static String fileName(Class<?> type) {
        return type.getName().substring(type.getPackageName().length() + 1).replace('$', '.') + ".json";
    }

    /** Fields of {@code golden} absent from {@code actual} or with another value, as JSON paths. */
    private static List<String> missing(JsonNode golden, JsonNode actual, String path) {
        List<String> out = new ArrayList<>();
        if (golden.isObject()) {
            if (actual == null || !actual.isObject()) {
                out.add(path + " (an object in version 1)");
                return out;
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = golden.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                out.addAll(missing(e.getValue(), actual.get(e.getKey()), path + "." + e.getKey()));
            }
        } else if (golden.isArray()) {
            if (actual == null || !actual.isArray() || actual.size() != golden.size()) {
                out.add(path + " (an array of " + golden.size() + " in version 1)");
                return out;
            }
            for (int i = 0; i < golden.size(); i++) {
                out.addAll(missing(golden.get(i), actual.get(i), path + "[" + i + "]"));
            }
        } else if (actual == null || !(actual.equals(golden) || golden.isNumber() && actual.isNumber()
                && golden.decimalValue().compareTo(actual.decimalValue()) == 0)) {
            out.add(path + " = " + golden + " in version 1, now " + actual);
        }
        return out;
    }

    /** Record components are what Jackson writes: a record without components would be a mistake here. */
    @Test
    void samplesHaveAValueForEveryComponent() {
        for (Class<?> t : WireSamples.records()) {
            JsonNode n = JSON.valueToTree(WireSamples.sample(t));
            for (RecordComponent c : t.getRecordComponents()) {
                assertThat(n.has(c.getName())).as(t.getSimpleName() + "." + c.getName() + " in its sample").isTrue();
            }
        }
    }
}
