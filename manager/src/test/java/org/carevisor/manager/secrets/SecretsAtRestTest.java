package org.carevisor.manager.secrets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.StringLength;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.manager.db.Database;
import org.carevisor.manager.db.Sql;
import org.carevisor.manager.ha.FenceConfig;
import org.carevisor.manager.ha.HaRepository;
import org.carevisor.manager.ha.fence.FenceAgent;
import org.carevisor.testkit.Lab;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BMC passwords at rest: sealed with AES-256-GCM under a key file outside the database, never in plaintext in
 * the database, still usable for fencing (a fake {@code ipmitool} - no BMC exists here - receives the real
 * password), plaintext of older versions sealed at start, and a missing or wrong key file refused with a message
 * naming it. The manager's files and directories are the owner's only after a real start.
 */
class SecretsAtRestTest {
    private static final String DEFAULT_CLUSTER = "00000000-0000-4000-8000-000000000001";

    @TempDir
    Path dir;

    @Property(tries = 200)
    void whatIsSealedOpensOnlyAtItsPlace(@ForAll @StringLength(min = 8, max = 300) String secret) throws Exception {
        Path keys = Files.createTempDirectory("carevisor-secrets-prop");
        try {
            SecretBox box = SecretBox.open(keys.resolve("secrets.key"), Set.of());
            String sealed = box.seal("host_fence.secret:h1", secret);
            assertThat(sealed).startsWith(SecretBox.PREFIX + box.keyId() + ":").doesNotContain(secret);
            assertThat(box.open("host_fence.secret:h1", sealed)).isEqualTo(secret);
            assertThat(box.seal("host_fence.secret:h1", secret)).as("a fresh nonce each time").isNotEqualTo(sealed);
            assertThatThrownBy(() -> box.open("host_fence.secret:h2", sealed)).isInstanceOf(SecretsException.class)
                    .hasMessageContaining("copied from another row");
        } finally {
            try (var s = Files.walk(keys)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void aChangedValueOrAnotherKeyIsRefusedNamingTheKeyFile() throws Exception {
        SecretBox box = SecretBox.open(dir.resolve("keys/secrets.key"), Set.of());
        assertThat(Files.getPosixFilePermissions(dir.resolve("keys/secrets.key")))
                .isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(Files.getPosixFilePermissions(dir.resolve("keys")))
                .isEqualTo(PosixFilePermissions.fromString("rwx------"));
        String sealed = box.seal("t:1", "s3cret-bmc");
        char[] c = sealed.toCharArray();
        int i = sealed.length() - 5;
        c[i] = c[i] == 'A' ? 'B' : 'A';
        assertThatThrownBy(() -> box.open("t:1", new String(c))).isInstanceOf(SecretsException.class)
                .hasMessageContaining(dir.resolve("keys/secrets.key").toString());
        SecretBox other = SecretBox.open(dir.resolve("other/secrets.key"), Set.of());
        assertThatThrownBy(() -> other.open("t:1", sealed)).hasMessageContaining("was sealed with key " + box.keyId())
                .hasMessageContaining("restore the key file");
        assertThatThrownBy(() -> box.open("t:1", "plain-password")).hasMessageContaining("plaintext");
        // opening the key against values it did not seal: refused, the file named
        assertThatThrownBy(() -> SecretBox.open(dir.resolve("other/secrets.key"), Set.of(box.keyId())))
                .isInstanceOf(SecretsException.class).hasMessageContaining(dir.resolve("other/secrets.key").toString())
                .hasMessageContaining("restore");
        assertThatThrownBy(() -> SecretBox.open(dir.resolve("missing/secrets.key"), Set.of(box.keyId())))
                .isInstanceOf(SecretsException.class).hasMessageContaining("is missing")
                .hasMessageContaining("restore " + dir.resolve("missing/secrets.key"));
        Files.writeString(dir.resolve("keys/broken.key"), "not a key\n");
        assertThatThrownBy(() -> SecretBox.open(dir.resolve("keys/broken.key"), Set.of()))
                .hasMessageContaining("is not a Carevisor secrets key");
    }

    /** The password is sealed in the column, opens for fencing, and a plaintext one of an older version is sealed. */
    @Test
    void aBmcPasswordIsSealedInTheDatabaseAndStillFences() throws Exception {
        try (Database db = Database.open(Database.h2Url(dir.resolve("db")), null, null)) {
            SecretBox box = SealedColumns.openBox(db.jdbi(), dir.resolve("keys/secrets.key"));
            HaRepository repo = new HaRepository(db.jdbi(), box);
            host(db, "h-1");
            host(db, "h-2");
            String password = "Bmc-Pass-" + System.nanoTime();
            db.jdbi().useTransaction(h -> repo.putFence(h, "h-1", new FenceConfig("ipmi", "10.0.9.21", "fence",
                    password, null, null)));
            String raw = db.jdbi().withHandle(h -> h.createQuery("SELECT secret FROM host_fence WHERE host_id = 'h-1'")
                    .mapTo(String.class).one());
            assertThat(raw).startsWith("cvenc1:").doesNotContain(password);
            // the whole database file does not hold it either
            db.jdbi().useHandle(h -> h.execute("CHECKPOINT SYNC"));
            assertThat(new String(Files.readAllBytes(dir.resolve("db/carevisor.mv.db")),
                    java.nio.charset.StandardCharsets.ISO_8859_1)).doesNotContain(password);

            Path calls = dir.resolve("calls");
            Path fake = fakeIpmitool(calls);
            String before = System.getProperty("carevisor.ipmitool");
            System.setProperty("carevisor.ipmitool", fake.toString());
            try {
                FenceAgent.Result r = repo.fence("h-1").orElseThrow().agent(false).powerOff(Duration.ofSeconds(10));
                assertThat(r.off()).as(r.detail()).isTrue();
            } finally {
                if (before == null) {
                    System.clearProperty("carevisor.ipmitool");
                } else {
                    System.setProperty("carevisor.ipmitool", before);
                }
            }
            assertThat(Files.readAllLines(calls).getFirst()).contains("chassis power off", "pw=" + password);

            // a value copied to another host's row does not open there: refused, never an empty password
            db.jdbi().useHandle(h -> h.createUpdate("INSERT INTO host_fence (host_id, kind, address, username, secret,"
                    + " updated_at) VALUES ('h-2', 'ipmi', '10.0.9.22', 'fence', :s, :at)").bind("s", raw)
                    .bind("at", Sql.ts(Sql.now())).execute());
            assertThatThrownBy(() -> repo.fence("h-2")).isInstanceOf(SecretsException.class)
                    .hasMessageContaining(dir.resolve("keys/secrets.key").toString());
            assertThat(repo.fences().get("h-2").secret()).isNull();

            // an older version's plaintext is sealed in place
            db.jdbi().useHandle(h -> h.execute("UPDATE host_fence SET secret = 'legacy-plain' WHERE host_id = 'h-2'"));
            assertThat(SealedColumns.sealPlaintext(db.jdbi(), box)).isEqualTo(1);
            String migrated = db.jdbi().withHandle(h -> h.createQuery(
                    "SELECT secret FROM host_fence WHERE host_id = 'h-2'").mapTo(String.class).one());
            assertThat(migrated).startsWith("cvenc1:").doesNotContain("legacy-plain");
            assertThat(repo.fence("h-2").orElseThrow().secret()).isEqualTo("legacy-plain");
            assertThat(SealedColumns.sealPlaintext(db.jdbi(), box)).isZero();
        }
    }

    /** A real start: files 0600 and directories 0700; then a wrong and a missing key file stop the next start. */
    @Test
    void theManagerKeepsItsFilesPrivateAndRefusesAWrongKeyFile() throws Exception {
        Path data = dir.resolve("var/manager");
        Files.createDirectories(data, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        Files.writeString(data.resolve("left-by-an-old-version"), "x");
        Files.setPosixFilePermissions(data.resolve("left-by-an-old-version"), PosixFilePermissions.fromString("rw-r--r--"));
        System.setProperty("carevisor.admin-password", Lab.ADMIN_PASSWORD);
        String[] args = {"--data-dir", data.toString(), "--port", "0", "--agent-port", "0", "--audit-syslog", "none"};
        try (Manager m = Manager.start(ManagerConfig.parse(args, Map.of()))) {
            assertThat(m.port()).isPositive();
        }
        for (Path p : List.of(data, data.resolve("pki"), dir.resolve("var/keys"), dir.resolve("var/audit"))) {
            assertThat(Files.getPosixFilePermissions(p)).as(p.toString())
                    .isEqualTo(PosixFilePermissions.fromString("rwx------"));
        }
        for (Path p : List.of(data.resolve("carevisor.mv.db"), data.resolve("pki/ca.key"), data.resolve("pki/ca.crt"),
                data.resolve("left-by-an-old-version"), dir.resolve("var/keys/secrets.key"),
                dir.resolve("var/keys/checkpoint.key"), dir.resolve("var/audit/anchor.jsonl"))) {
            assertThat(Files.getPosixFilePermissions(p)).as(p.toString())
                    .isEqualTo(PosixFilePermissions.fromString("rw-------"));
        }
        // a stored password makes the key file necessary
        try (Database db = Database.open(Database.h2Url(data), null, null)) {
            SecretBox box = SealedColumns.openBox(db.jdbi(), dir.resolve("var/keys/secrets.key"));
            host(db, "h-1");
            db.jdbi().useTransaction(h -> new HaRepository(db.jdbi(), box).putFence(h, "h-1", new FenceConfig("ipmi",
                    "10.0.9.21", "fence", "pw", null, null)));
        }
        Path key = dir.resolve("var/keys/secrets.key");
        Path kept = dir.resolve("secrets.key.kept");
        Files.move(key, kept);
        SecretBox.open(key, Set.of()); // another installation's key in its place
        assertThatThrownBy(() -> Manager.start(ManagerConfig.parse(args, Map.of())))
                .isInstanceOf(SecretsException.class).hasMessageContaining(key.toString())
                .hasMessageContaining("restore");
        Files.delete(key);
        assertThatThrownBy(() -> Manager.start(ManagerConfig.parse(args, Map.of())))
                .isInstanceOf(SecretsException.class).hasMessageContaining(key + " is missing");
        Files.move(kept, key);
        try (Manager m = Manager.start(ManagerConfig.parse(args, Map.of()))) {
            assertThat(m.port()).isPositive();
        }
        // and the checkpoint key, once checkpoints were signed with it
        Files.move(dir.resolve("var/keys/checkpoint.key"), dir.resolve("checkpoint.key.kept"));
        assertThatThrownBy(() -> Manager.start(ManagerConfig.parse(args, Map.of())))
                .isInstanceOf(SecretsException.class).hasMessageContaining("checkpoint key")
                .hasMessageContaining(dir.resolve("var/keys/checkpoint.key") + " is missing");
        // keys inside the data directory are refused
        assertThatThrownBy(() -> ManagerConfig.parse(new String[] {"--data-dir", data.toString(), "--key-dir",
                data.resolve("keys").toString()}, Map.of())).hasMessageContaining("outside the data directory");
    }

    private static void host(Database db, String id) {
        db.jdbi().useHandle(h -> h.createUpdate("INSERT INTO hosts (id, name, endpoint, inventory_json, first_seen,"
                + " last_seen, cluster_id) VALUES (:id, :id, 'https://127.0.0.1:7701', '{}', :t, :t, :c)").bind("id", id)
                .bind("t", Sql.ts(Sql.now())).bind("c", DEFAULT_CLUSTER).execute());
    }

    /** A fake ipmitool (no BMC here): records its arguments and IPMI_PASSWORD, keeps the power state in a file. */
    private Path fakeIpmitool(Path calls) throws Exception {
        Path state = dir.resolve("power");
        Files.writeString(state, "on");
        Path fake = dir.resolve("ipmitool");
        Files.writeString(fake, """
                #!/bin/sh
                echo "$* | pw=$IPMI_PASSWORD" >> %s
                case "$*" in
                  *"power off") echo off > %s; echo "Chassis Power Control: Down/Off" ;;
                  *"power status") echo "Chassis Power is $(cat %s)" ;;
                  *) exit 1 ;;
                esac
                """.formatted(calls, state, state));
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwx------"));
        return fake;
    }
}
