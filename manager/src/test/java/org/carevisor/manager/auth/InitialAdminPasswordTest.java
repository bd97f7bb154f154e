package org.carevisor.manager.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Map;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The first administrator's initial password (CAREVISOR_ADMIN_PASSWORD, here its system property) is a one-time
 * credential: it works for --admin-password-hours, then stops (the right password gets 403 password-expired,
 * a wrong one the usual 401), and setting one's own password ends it at once. A database of an earlier version,
 * whose admin still has the initial password without an expiry, gets one at the next start (audited).
 */
class InitialAdminPasswordTest {
    @TempDir
    Path dir;

    private Manager start(String... more) throws Exception {
        System.setProperty("carevisor.admin-password", Lab.ADMIN_PASSWORD);
        String[] args = new String[] {"--data-dir", dir.resolve("manager").toString(), "--port", "0", "--agent-port", "0"};
        String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.Arrays.stream(more))
                .toArray(String[]::new);
        return Manager.start(ManagerConfig.parse(all, Map.of()));
    }

    private Http http(Manager m) {
        return Http.forManager(dir.resolve("manager"), m.port());
    }

    private static Instant expiry(Http admin) {
        String t = admin.get("/api/v1/users/admin").expect(200).json().path("passwordExpiresAt").asText(null);
        return t == null ? null : Instant.parse(t);
    }

    private static void setExpiry(Manager m, Instant at) {
        m.database().jdbi().useHandle(h -> h.createUpdate("UPDATE users SET password_expires_at = :t WHERE username"
                + " = 'admin'").bind("t", at == null ? null : OffsetDateTime.ofInstant(at, java.time.ZoneOffset.UTC))
                .execute());
    }

    @Test
    void itWorksForItsHoursThenStopsAndTheRightPasswordIsToldWhatToDo() throws Exception {
        try (Manager m = start("--admin-password-hours", "2")) {
            Http admin = http(m).login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
            Instant until = expiry(admin);
            assertThat(until).isBetween(Instant.now().plus(Duration.ofMinutes(110)),
                    Instant.now().plus(Duration.ofMinutes(121)));
            JsonNode created = admin.get("/api/v1/audit?action=user.create&limit=1").json().get(0);
            assertThat(created.path("reason").asText()).contains("initial password works until");
            // the time runs out (moved into the past behind the manager's back)
            setExpiry(m, Instant.now().minusSeconds(1));
            Http.Response expired = http(m).post("/api/v1/auth/login", "{\"username\":\"admin\",\"password\":\""
                    + Lab.ADMIN_PASSWORD + "\"}");
            assertThat(expired.status()).isEqualTo(403);
            assertThat(expired.json().path("code").asText()).isEqualTo("password-expired");
            assertThat(expired.json().path("detail").asText()).contains("emergency-access --user admin");
            JsonNode refused = admin.get("/api/v1/audit?action=auth.login&limit=1").json().get(0);
            assertThat(refused.path("outcome").asText()).isEqualTo("refused");
            assertThat(refused.path("reason").asText()).contains("password expired");
            // without the password nothing is revealed
            Http.Response wrong = http(m).post("/api/v1/auth/login", "{\"username\":\"admin\",\"password\":\"guess\"}");
            assertThat(wrong.status()).isEqualTo(401);
            assertThat(wrong.json().path("code").asText()).isEqualTo("login-failed");
            // an expired password signs nothing either
            Http.Response sign = admin.post("/api/v1/audit/reviews", "{\"from\":\"2026-01-01\",\"to\":\"2099-01-01\","
                    + "\"conclusion\":\"ok\"," + Lab.signature("reviewed") + "}");
            assertThat(sign.json().path("code").asText()).isEqualTo("password-expired");
        }
    }

    @Test
    void settingOnesOwnPasswordEndsTheInitialOneAtOnce() throws Exception {
        try (Manager m = start()) {
            Http admin = http(m).login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
            assertThat(expiry(admin)).isAfter(Instant.now().plus(Duration.ofHours(23)));
            admin.post("/api/v1/auth/password", "{\"currentPassword\":\"" + Lab.ADMIN_PASSWORD
                    + "\",\"newPassword\":\"My-Own-Secret-2026\"}").expect(204);
            assertThat(expiry(admin)).as("one's own password does not expire").isNull();
            assertThat(http(m).post("/api/v1/auth/login", "{\"username\":\"admin\",\"password\":\""
                    + Lab.ADMIN_PASSWORD + "\"}").status()).isEqualTo(401);
            http(m).login(Lab.ADMIN, "My-Own-Secret-2026");
        }
        // a restart gives an own password no expiry
        try (Manager m = start()) {
            assertThat(expiry(http(m).login(Lab.ADMIN, "My-Own-Secret-2026"))).isNull();
        }
    }

    @Test
    void aDatabaseOfAnEarlierVersionGetsTheExpiryAtTheNextStart() throws Exception {
        try (Manager m = start()) {
            http(m).login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
            setExpiry(m, null); // as an earlier version left it: the initial password valid for ever
        }
        try (Manager m = start("--admin-password-hours", "5")) {
            Http admin = http(m).login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
            assertThat(expiry(admin)).isBetween(Instant.now().plus(Duration.ofMinutes(290)),
                    Instant.now().plus(Duration.ofMinutes(301)));
            JsonNode r = admin.get("/api/v1/audit?action=user.password.expiry&limit=1").json().get(0);
            assertThat(r.path("actor").asText()).isEqualTo("system:setup");
            assertThat(r.path("targetName").asText()).isEqualTo("admin");
        }
    }

    @Test
    void theValidityIsBounded() {
        for (String bad : new String[] {"0", "721"}) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> ManagerConfig.parse(new String[] {
                "--admin-password-hours", bad}, Map.of())).hasMessageContaining("--admin-password-hours");
        }
    }
}
