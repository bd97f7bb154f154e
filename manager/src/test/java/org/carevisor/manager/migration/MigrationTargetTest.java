package org.carevisor.manager.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.db.Database;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.IncomingResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The source's migration URI is the manager's: the destination's registered address (from the database) and
 * only the port from its answer, which must be tcp to that address in its port range. Against a real H2 database.
 */
class MigrationTargetTest {
    static Path dir;
    static Database db;
    static MigrationTarget target;
    static final String DEST = "00000000-0000-4000-8000-0000000000d1";
    static final String LEGACY = "00000000-0000-4000-8000-0000000000d2";

    @BeforeAll
    static void open() throws Exception {
        dir = Files.createTempDirectory("migration-target");
        db = Database.open(Database.h2Url(dir), null, null);
        HostRepository hosts = new HostRepository(db.jdbi());
        hosts.upsert(new HostInventory(DEST, "lab-h2", "https://10.77.1.12:7701", 2, "cpu", 4096, 4000, "/s", 1, 1,
                "7.2", "tcg", List.of(), false, "dev", 1, null, 0, List.of(), List.of(), "10.77.1.12", 49152, 49215),
                Instant.now());
        hosts.upsert(new HostInventory(LEGACY, "lab-h3", "https://10.77.1.13:7701", 2, "cpu", 4096, 4000, "/s", 1, 1,
                "7.2", "tcg", List.of(), false, "dev", 1, null, 0, List.of(), List.of(), "10.77.1.13", 0, 0),
                Instant.now());
        db.jdbi().useHandle(h -> h.createUpdate("UPDATE hosts SET migration_address = '10.77.1.12' WHERE id = :id")
                .bind("id", DEST).execute());
        target = new MigrationTarget(hosts);
    }

    @AfterAll
    static void close() throws Exception {
        db.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static String uri(String host, String answered) {
        return target.sourceUri(host, "lab-h2", new IncomingResponse(answered, null));
    }

    @Test
    void theManagerBuildsTheUriFromTheRegisteredAddress() {
        assertThat(uri(DEST, "tcp:10.77.1.12:49152")).isEqualTo("tcp:10.77.1.12:49152");
        assertThat(uri(DEST, "tcp:10.77.1.12:49215")).isEqualTo("tcp:10.77.1.12:49215");
    }

    @Test
    void whatTheDestinationChoosesIsRefused() {
        for (String answered : new String[] {"exec:touch /tmp/canary", "file:/tmp/dump", "unix:/run/x.sock", "fd:3",
            "tcp:10.77.1.1:49152", "tcp:10.77.1.11:49152", "tcp:127.0.0.1:49152", "tcp:10.77.1.12:22",
            "tcp:10.77.1.12:49216", "tcp:10.77.1.12:49152,ipv4=on", "tcp:10.77.1.12", null, ""}) {
            assertThatThrownBy(() -> uri(DEST, answered)).as(String.valueOf(answered))
                    .isInstanceOfSatisfying(ApiException.class, e -> {
                        assertThat(e.code()).isEqualTo("migration-uri-refused");
                        assertThat(e.getMessage()).contains("lab-h2");
                    });
        }
        assertThatThrownBy(() -> target.sourceUri(DEST, "lab-h2", null)).isInstanceOf(ApiException.class);
    }

    @Test
    void aHostWithoutARegisteredAddressReceivesNoMigration() {
        assertThatThrownBy(() -> uri(LEGACY, "tcp:10.77.1.13:49152")).isInstanceOfSatisfying(ApiException.class,
                e -> assertThat(e.getMessage()).contains("no registered migration address"));
    }
}
