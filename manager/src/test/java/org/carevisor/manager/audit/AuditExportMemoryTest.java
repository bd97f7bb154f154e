package org.carevisor.manager.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.carevisor.manager.db.Database;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The audit export streams with bounded memory: a manager process with a {@value #HEAP} heap exports a CSV of
 * about {@value #RECORDS} records of 4 KB each - four times its heap - from its H2 database, and keeps running
 * (it is started with -XX:+ExitOnOutOfMemoryError, so running out of heap ends it). Before the streaming export
 * the manager held every record and the whole file in memory. The PostgreSQL side of the stream (a cursor inside
 * a read transaction, {@link AuditLog#FETCH_SIZE} rows at a time) holds by design; ScopedListsTest runs the
 * stream there.
 */
class AuditExportMemoryTest {
    static final String HEAP = "64m";
    static final int RECORDS = 70_000;

    @TempDir
    Path dir;
    Process manager;

    @AfterEach
    void stop() throws InterruptedException {
        if (manager != null) {
            manager.destroy();
            if (!manager.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
                manager.destroyForcibly().waitFor();
            }
        }
    }

    @Test
    void aCsvExportFourTimesTheHeapStreamsOut() throws Exception {
        Path data = dir.resolve("manager");
        String blob = "0123456789abcdef".repeat(256); // 4 KiB
        try (Database db = Database.open(Database.h2Url(data), null, null)) {
            AuditLog audit = new AuditLog(db.jdbi());
            for (int batch = 0; batch < RECORDS / 5_000; batch++) {
                int first = batch * 5_000;
                db.jdbi().useTransaction(h -> {
                    for (int i = first; i < first + 5_000; i++) {
                        audit.record(h, new AuditLog.Entry(Actor.system("bulk"), "bulk.record", "vm", "v" + (i % 50),
                                "n", null, Map.of("i", i, "blob", blob), "bulk " + i, AuditLog.Outcome.SUCCESS, null));
                    }
                });
            }
        }
        Path log = dir.resolve("manager.log");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-Xmx" + HEAP, "-XX:+ExitOnOutOfMemoryError",
                "-cp", System.getProperty("java.class.path"), "org.carevisor.manager.ManagerMain",
                "--data-dir", data.toString(), "--port", "0", "--agent-port", "0"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().put("CAREVISOR_ADMIN_PASSWORD", Lab.ADMIN_PASSWORD);
        manager = pb.start();
        Path urlFile = data.resolve("manager.url");
        String url = Poll.until(Duration.ofSeconds(90), "the manager to start (see " + log + ")", () -> {
            try {
                if (!manager.isAlive()) {
                    throw new IllegalStateException("the manager exited: " + Files.readString(log));
                }
                String text = Files.exists(urlFile) ? Files.readString(urlFile).strip() : "";
                return text.isEmpty() ? null : text;
            } catch (IOException e) {
                return null;
            }
        });
        int port = Integer.parseInt(url.replaceAll(".*:(\\d+)/?$", "$1"));
        Http admin = Http.forManager(data, port).login(Lab.ADMIN, Lab.ADMIN_PASSWORD);

        Path csv = dir.resolve("export.csv");
        var headers = admin.download("/api/v1/audit/export?format=csv&action=bulk.record&limit=1000000", csv);
        assertThat(headers.firstValue("Carevisor-Records-Exported")).hasValue(String.valueOf(RECORDS));
        assertThat(Files.size(csv)).as("the export is larger than four heaps").isGreaterThan(4L * 64 << 20);
        long lines = 0;
        String last = null;
        try (BufferedReader r = Files.newBufferedReader(csv, StandardCharsets.UTF_8)) {
            for (String l = r.readLine(); l != null; l = r.readLine()) {
                lines++;
                last = l;
            }
        }
        assertThat(lines).isEqualTo(RECORDS + 1);
        assertThat(last).contains("bulk " + (RECORDS - 1));
        assertThat(manager.isAlive()).as("the manager survived the export; log: " + log).isTrue();
        admin.get("/api/v1/health").expect(200);
        assertThat(Files.readString(log)).doesNotContain("OutOfMemoryError");
    }
}
