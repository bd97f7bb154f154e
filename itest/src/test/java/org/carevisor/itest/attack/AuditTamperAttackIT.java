package org.carevisor.itest.attack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import org.carevisor.cli.CarevisorCli;
import org.carevisor.manager.db.Database;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.SyslogServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 7 and 9 of issue 12 tried as an attacker with write access to the database would, against a real lab
 * (manager and agent processes) whose manager sends its checkpoints to a real rsyslogd: 40 failed logins lock a
 * user; the manager is stopped; in the H2 file the failed logins, the lockout and their checkpoint are deleted
 * and {@code audit_head} moved back; the manager is started again. {@code audit verify} (API and the CLI) reports
 * the damage naming the anchored record, health is degraded, no checkpoint is signed over the forged head, and
 * the anchor file and syslog still hold the last genuine checkpoint. A BMC password set through the API is not in
 * the database in plaintext, and a wrong secrets key file stops the manager with a message naming it. The files
 * of the real manager are the owner's only. The loss is finally accepted with {@code audit-reanchor} and a reason.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AuditTamperAttackIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String BMC_PASSWORD = "Bmc-Secret-" + System.nanoTime();

    Path dir;
    SyslogServer syslog;
    Lab lab;
    String hostId;

    @BeforeAll
    void start(@TempDir Path tempDir) throws Exception {
        dir = tempDir;
        syslog = SyslogServer.start(dir.resolve("rsyslog"));
        lab = Lab.start(dir.resolve("lab"), 25200, List.of("--audit-syslog", syslog.tcpTarget()));
        hostId = lab.host(0).id();
    }

    @AfterAll
    void stop() throws Exception {
        if (lab != null) {
            lab.close();
        }
        if (syslog != null) {
            syslog.close();
        }
    }

    private Path manager() {
        return lab.dir().resolve("manager");
    }

    private Path anchorFile() {
        return lab.dir().resolve("audit/anchor.jsonl");
    }

    @Test
    @Order(1)
    void theManagersFilesArePrivateAndTheBmcPasswordIsSet() throws Exception {
        lab.api().patch("/api/v1/hosts/" + hostId + "/fence", "{\"kind\":\"ipmi\",\"address\":\"127.0.0.1\","
                + "\"username\":\"fence\",\"password\":\"" + BMC_PASSWORD + "\"}").expect(200);
        assertThat(lab.api().get("/api/v1/hosts/" + hostId + "/fence").json().path("secretSet").asBoolean()).isTrue();
        for (Path d : List.of(manager(), manager().resolve("pki"), lab.dir().resolve("keys"), lab.dir().resolve("audit"))) {
            assertThat(Files.getPosixFilePermissions(d)).as(d.toString())
                    .isEqualTo(PosixFilePermissions.fromString("rwx------"));
        }
        for (Path f : List.of(manager().resolve("carevisor.mv.db"), manager().resolve("manager.url"),
                manager().resolve("agent.url"), manager().resolve("pki/ca.key"), lab.dir().resolve("keys/secrets.key"),
                lab.dir().resolve("keys/checkpoint.key"), anchorFile())) {
            assertThat(Files.getPosixFilePermissions(f)).as(f.toString())
                    .isEqualTo(PosixFilePermissions.fromString("rw-------"));
        }
        assertThat(lab.api().get("/api/v1/health").json().path("alarms").size()).isZero();
    }

    @Test
    @Order(2)
    void deletingTheFailedLoginsWithTheirCheckpointIsDetectedAfterARestart() throws Exception {
        lab.api().post("/api/v1/users", "{\"username\":\"nurse\",\"fullName\":\"Night Nurse\",\"password\":"
                + "\"Night-Shift-Pass-2026!\"}").expect(201);
        long firstFailure = lab.api().get("/api/v1/audit/checkpoints").json().path("head").path("seq").asLong() + 1;
        for (int i = 0; i < 40; i++) {
            lab.anonymous().post("/api/v1/auth/login", "{\"username\":\"nurse\",\"password\":\"wrong-" + i + "\"}");
        }
        // each attempt up to the lockout is a failed login, then the account is locked and the attempts are rate
        // limited: those are audited once per episode, so the trail grew by the failures, the lockout and more
        long afterFailures = lab.api().get("/api/v1/audit?action=auth.*&limit=1").json().get(0).path("seq").asLong();
        assertThat(afterFailures).isGreaterThanOrEqualTo(firstFailure + 5);
        JsonNode intact = lab.api().post("/api/v1/audit/verify", null).expect(200).json();
        assertThat(intact.path("ok").asBoolean()).as(intact.path("summary").asText()).isTrue();
        assertThat(lab.api().get("/api/v1/audit?action=user.lock*&limit=10").json().size()).isPositive();

        lab.manager().close(); // a normal stop: the manager signs its last checkpoint
        JsonNode genuine = lastAnchored();
        long anchoredSeq = genuine.path("seq").asLong();
        assertThat(anchoredSeq).isGreaterThanOrEqualTo(afterFailures);
        assertThat(syslog.await(genuine.path("checkpoint").asText(), Duration.ofSeconds(30)))
                .contains("\"seq\":" + anchoredSeq);

        // the attacker: the failed logins, the lockout and their checkpoints gone, the head moved back
        try (Connection c = DriverManager.getConnection(Database.h2Url(manager()))) {
            String raw = one(c, "SELECT secret FROM host_fence WHERE host_id = ?", hostId);
            assertThat(raw).startsWith("cvenc1:").doesNotContain(BMC_PASSWORD);
            c.setAutoCommit(false);
            update(c, "DELETE FROM audit_log WHERE seq >= ?", firstFailure);
            update(c, "DELETE FROM audit_checkpoints WHERE seq >= ?", firstFailure);
            String hash = one(c, "SELECT hash FROM audit_log WHERE seq = ?", firstFailure - 1);
            try (PreparedStatement ps = c.prepareStatement("UPDATE audit_head SET seq = ?, hash = ?")) {
                ps.setLong(1, firstFailure - 1);
                ps.setString(2, hash);
                ps.executeUpdate();
            }
            c.commit();
        }

        lab.startManager();
        JsonNode v = lab.api().post("/api/v1/audit/verify", null).expect(200).json();
        assertThat(v.path("ok").asBoolean()).isFalse();
        assertThat(v.path("summary").asText()).contains("DAMAGED");
        assertThat(v.path("anchoredSeq").asLong()).isEqualTo(anchoredSeq);
        assertThat(v.path("problems").toString()).contains("head-behind-anchor", "checkpoint-missing",
                "record " + anchoredSeq);

        JsonNode health = lab.api().get("/api/v1/health").json();
        assertThat(lab.anonymous().get("/api/v1/health").json().path("alarms").isMissingNode())
                .as("an anonymous caller sees the status only").isTrue();
        assertThat(health.path("status").asText()).isEqualTo("degraded");
        assertThat(health.path("alarms").toString()).contains("audit-integrity", "record " + anchoredSeq);

        // nothing signed over the forged head: the newest checkpoint is older than the deleted records
        JsonNode latest = lab.api().get("/api/v1/audit/checkpoints").json().path("latest");
        assertThat(latest.isNull() || latest.path("seq").asLong() < firstFailure).as(latest.toString()).isTrue();
        assertThat(lastAnchored()).isEqualTo(genuine);
        assertThat(syslog.messages().stream().filter(m -> m.contains("carevisor-audit-checkpoint"))
                .reduce((a, b) -> b).orElseThrow()).contains(genuine.path("checkpoint").asText());
        assertThat(syslog.await("carevisor-audit-alarm", Duration.ofSeconds(30))).startsWith("auth.crit")
                .contains("record " + anchoredSeq);
        assertThat(lab.api().get("/api/v1/audit?action=audit.integrity-alarm").json().size()).isEqualTo(1);

        // the real CLI
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CarevisorCli cli = new CarevisorCli(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        cli.token(lab.login(Lab.ADMIN, Lab.ADMIN_PASSWORD)).sessionFile(dir.resolve("cli-session"));
        int code = CarevisorCli.execute(cli, "--url", lab.managerUrl(), "--ca", lab.managerCa().toString(), "audit",
                "verify");
        assertThat(code).isNotZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("AUDIT TRAIL DAMAGED", "head-behind-anchor",
                "record " + anchoredSeq);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("damaged");
        out.reset();
        assertThat(CarevisorCli.execute(cli, "--url", lab.managerUrl(), "--ca", lab.managerCa().toString(),
                "health")).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("status:    degraded", "ALARM:     audit-integrity");
    }

    @Test
    @Order(3)
    void aWrongSecretsKeyFileStopsTheManagerNamingIt() throws Exception {
        lab.manager().close();
        Path key = lab.dir().resolve("keys/secrets.key");
        Path kept = dir.resolve("secrets.key.kept");
        Files.move(key, kept);
        Files.writeString(key, "carevisor-secrets-key-v1\n" + java.util.Base64.getEncoder().encodeToString(new byte[32])
                + "\n");
        assertThatThrownBy(lab::startManager).hasMessageContaining("manager exited");
        assertThat(Files.readString(lab.manager().log())).contains("the secrets key file " + key,
                "restore the " + key);
        Files.move(kept, key, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        lab.startManager();
        assertThat(lab.api().get("/api/v1/hosts/" + hostId + "/fence").json().path("secretSet").asBoolean()).isTrue();
    }

    /** The way back after an acknowledged loss: audit-reanchor on the stopped manager, with a reason. */
    @Test
    @Order(4)
    void reanchoringWithAReasonAcceptsTheTrailAndRecordsTheLoss() throws Exception {
        lab.manager().close();
        JsonNode genuine = lastAnchored();
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), "org.carevisor.manager.ManagerMain", "audit-reanchor",
                "--reason", "INC-4711: failed logins deleted by a database administrator; trail accepted by QA",
                "--data-dir", manager().toString(), "--audit-syslog", syslog.tcpTarget())
                .redirectErrorStream(true).start();
        p.getOutputStream().close();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(output).isZero();
        assertThat(output).contains("re-anchored the audit trail", "the anchor held record "
                + genuine.path("seq").asLong());
        assertThat(syslog.await("carevisor-audit-reanchor", Duration.ofSeconds(30))).contains("INC-4711");
        lab.startManager();
        assertThat(lab.api().get("/api/v1/health").json().path("alarms").size()).isZero();
        JsonNode v = lab.api().post("/api/v1/audit/verify", null).expect(200).json();
        assertThat(v.path("ok").asBoolean()).as(v.path("summary").asText()).isTrue();
        JsonNode record = lab.api().get("/api/v1/audit?action=audit.reanchored").json().get(0);
        assertThat(record.path("reason").asText()).contains("INC-4711");
        assertThat(record.path("oldValue").path("anchoredSeq").asLong()).isEqualTo(genuine.path("seq").asLong());
        // the anchor file keeps the genuine checkpoint among its earlier lines
        assertThat(Files.readAllLines(anchorFile())).anySatisfy(l -> assertThat(l).contains(
                genuine.path("checkpoint").asText()));
    }

    private JsonNode lastAnchored() throws Exception {
        List<String> lines = Files.readAllLines(anchorFile());
        return JSON.readTree(lines.getLast());
    }

    private static String one(Connection c, String sql, Object arg) throws Exception {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setObject(1, arg);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    private static void update(Connection c, String sql, Object arg) throws Exception {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setObject(1, arg);
            ps.executeUpdate();
        }
    }
}
