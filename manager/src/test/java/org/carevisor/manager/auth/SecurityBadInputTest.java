package org.carevisor.manager.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Refused logins, locked accounts, expired tokens, automatic logoff, missing reasons, wrong signatures and
 * malformed audit queries: each refused with a clear problem document, and security events audited. Also
 * the positive path of an electronic signature, shown in the trail and in the CSV and PDF exports.
 */
class SecurityBadInputTest {
    @TempDir
    static Path dir;
    static Manager manager;
    static Http admin;

    @BeforeAll
    static void start() throws Exception {
        System.setProperty("carevisor.admin-password", Lab.ADMIN_PASSWORD);
        manager = Manager.start(ManagerConfig.parse(new String[] {"--data-dir", dir.resolve("manager").toString(), "--port", "0",
            "--agent-port", "0"}, Map.of()));
        admin = http().login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
    }

    @AfterAll
    static void stop() {
        if (manager != null) {
            manager.close();
        }
    }

    static Http http() {
        return Http.forManager(dir.resolve("manager"), manager.port());
    }

    static void createUser(String name, String role) {
        admin.post("/api/v1/users", "{\"username\":\"" + name + "\",\"fullName\":\"" + name.toUpperCase()
                + " Person\",\"password\":\"First-Password-77\",\"roles\":[{\"role\":\"" + role + "\"}]}").expect(201);
        Http u = http().login(name, "First-Password-77");
        u.post("/api/v1/auth/password", "{\"currentPassword\":\"First-Password-77\",\"newPassword\":\"Good-Password-88\"}")
                .expect(204);
    }

    static JsonNode lastAudit(String action) {
        return admin.get("/api/v1/audit?action=" + action + "&limit=1").expect(200).json().get(0);
    }

    @Test
    void wrongPasswordThenLockout() {
        createUser("carol", "operator");
        for (int i = 1; i <= 4; i++) {
            Http.Response r = http().post("/api/v1/auth/login", "{\"username\":\"carol\",\"password\":\"wrong\"}");
            assertThat(r.status()).isEqualTo(401);
            assertThat(r.json().path("code").asText()).isEqualTo("login-failed");
        }
        assertThat(lastAudit("auth.login").path("outcome").asText()).isEqualTo("failure");
        assertThat(lastAudit("auth.login").path("reason").asText()).isEqualTo("wrong password");
        // the fifth failure locks the account; then even the right password is refused
        http().post("/api/v1/auth/login", "{\"username\":\"carol\",\"password\":\"wrong\"}").expect(401);
        JsonNode locked = lastAudit("user.locked");
        assertThat(locked.path("targetName").asText()).isEqualTo("carol");
        assertThat(locked.path("actor").asText()).isEqualTo("system:security");
        Http.Response r = http().post("/api/v1/auth/login", "{\"username\":\"carol\",\"password\":\"Good-Password-88\"}");
        assertThat(r.status()).isEqualTo(403);
        assertThat(r.json().path("code").asText()).isEqualTo("account-locked");
        assertThat(lastAudit("auth.login").path("outcome").asText()).isEqualTo("refused");
        // an unknown user gets the same answer as a wrong password
        Http.Response unknown = http().post("/api/v1/auth/login", "{\"username\":\"nobody\",\"password\":\"x\"}");
        assertThat(unknown.status()).isEqualTo(401);
        assertThat(unknown.json().path("detail").asText()).isEqualTo(r.status() == 403 ? "user name or password is wrong"
                : "");
        // a user administrator unlocks
        admin.post("/api/v1/users/carol/unlock", null).expect(200);
        http().login("carol", "Good-Password-88").get("/api/v1/vms").expect(200);
    }

    @Test
    void expiredTokenAndAutomaticLogoff() {
        createUser("dave", "read-only");
        Http dave = http().login("dave", "Good-Password-88");
        JsonNode token = dave.post("/api/v1/auth/tokens", "{\"name\":\"nightly-report\",\"expiresInDays\":30}")
                .expect(201).json();
        Http script = http().withToken(token.path("token").asText());
        script.get("/api/v1/vms").expect(200);
        // the token's time runs out (moved into the past behind the manager's back)
        manager.database().jdbi().useHandle(h -> h.createUpdate("UPDATE auth_tokens SET expires_at = :t WHERE id = :id")
                .bind("t", java.time.OffsetDateTime.now().minusMinutes(1)).bind("id", token.path("id").asText())
                .execute());
        Http.Response expired = script.get("/api/v1/vms");
        assertThat(expired.status()).isEqualTo(401);
        assertThat(expired.json().path("code").asText()).isEqualTo("token-expired");
        assertThat(expired.json().path("detail").asText()).contains("nightly-report", "create a new token");
        assertThat(lastAudit("auth.token-expired").path("targetName").asText()).isEqualTo("dave");
        // a login session without activity for longer than the idle timeout is logged off
        String session = dave.get("/api/v1/auth/whoami").expect(200).json().path("session").path("id").asText();
        manager.database().jdbi().useHandle(h -> h.createUpdate("UPDATE auth_tokens SET last_used_at = :t WHERE id = :id")
                .bind("t", java.time.OffsetDateTime.now().minusMinutes(16)).bind("id", session).execute());
        Http.Response idle = dave.get("/api/v1/vms");
        assertThat(idle.status()).isEqualTo(401);
        assertThat(idle.json().path("code").asText()).isEqualTo("session-timed-out");
        assertThat(idle.json().path("detail").asText()).contains("15 minutes");
        assertThat(lastAudit("auth.logoff.automatic").path("targetName").asText()).isEqualTo("dave");
        assertThat(dave.get("/api/v1/vms").status()).isEqualTo(401);
        // garbage and missing credentials
        assertThat(http().withToken("cvs_nonsense").get("/api/v1/vms").json().path("code").asText())
                .isEqualTo("not-authenticated");
        assertThat(http().get("/api/v1/vms").json().path("detail").asText()).contains("log in");
    }

    @Test
    void missingReasonWhereOneIsRequired() {
        admin.patch("/api/v1/settings/security", "{\"reasonRequiredFor\":[\"template.qualified\",\"vm.gxp\",\"cluster\"]}")
                .expect(200);
        try {
            admin.post("/api/v1/clusters", "{\"name\":\"lab\"}").expect(201);
            Http.Response r = admin.patch("/api/v1/clusters/lab", "{\"description\":\"x\"}");
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.json().path("code").asText()).isEqualTo("reason-required");
            assertThat(r.json().path("errors").get(0).path("field").asText()).isEqualTo("reason");
            assertThat(admin.get("/api/v1/clusters/lab").json().path("description").asText("")).isNotEqualTo("x");
            admin.withHeader("Carevisor-Reason", "CHG-1001 rename").patch("/api/v1/clusters/lab",
                    "{\"description\":\"x\"}").expect(200);
            assertThat(lastAudit("cluster.update").path("reason").asText()).contains("CHG-1001 rename");
            // bad settings are refused naming the field
            Http.Response bad = admin.patch("/api/v1/settings/security", "{\"reasonRequiredFor\":[\"spaceship\"]}");
            assertThat(bad.status()).isEqualTo(400);
            assertThat(bad.text()).contains("reasonRequiredFor", "spaceship");
        } finally {
            admin.patch("/api/v1/settings/security", "{\"reasonRequiredFor\":[\"template.qualified\",\"vm.gxp\"]}")
                    .expect(200);
        }
    }

    @Test
    void signaturesAndReviews() throws Exception {
        createUser("erin", "auditor");
        Http erin = http().login("erin", "Good-Password-88");
        String review = "{\"from\":\"2026-01-01\",\"to\":\"2099-01-01\",\"conclusion\":\"no findings\"%s}";
        // no signature
        Http.Response none = erin.post("/api/v1/audit/reviews", review.formatted(""));
        assertThat(none.status()).isEqualTo(403);
        assertThat(none.json().path("code").asText()).isEqualTo("signature-required");
        // wrong password: refused, audited, counts towards lockout
        Http.Response wrong = erin.post("/api/v1/audit/reviews", review.formatted(
                ",\"signature\":{\"username\":\"erin\",\"password\":\"nope\",\"meaning\":\"reviewed\"}"));
        assertThat(wrong.status()).isEqualTo(403);
        assertThat(wrong.json().path("code").asText()).isEqualTo("signature-invalid");
        assertThat(lastAudit("signature.failed").path("targetName").asText()).isEqualTo("erin");
        assertThat(admin.get("/api/v1/users/erin").json().path("failedLogins").asInt()).isEqualTo(1);
        // someone else's name
        assertThat(erin.post("/api/v1/audit/reviews", review.formatted(
                ",\"signature\":{\"username\":\"admin\",\"password\":\"" + Lab.ADMIN_PASSWORD
                        + "\",\"meaning\":\"reviewed\"}")).json().path("code").asText()).isEqualTo("signature-invalid");
        // an unknown meaning
        assertThat(erin.post("/api/v1/audit/reviews", review.formatted(
                ",\"signature\":{\"username\":\"erin\",\"password\":\"Good-Password-88\",\"meaning\":\"liked\"}"))
                .status()).isEqualTo(400);
        // signed properly
        JsonNode signed = erin.post("/api/v1/audit/reviews", review.formatted(
                ",\"signature\":{\"username\":\"erin\",\"password\":\"Good-Password-88\",\"meaning\":\"reviewed\"}"))
                .expect(201).json();
        assertThat(signed.path("chainIntact").asBoolean()).isTrue();
        assertThat(Instant.parse(signed.path("to").asText())).as("a period into the future ends now")
                .isBefore(Instant.now().plusSeconds(1));
        // a period without records is not signed "no findings"; a date alone in "to" includes that whole day
        String sig = ",\"signature\":{\"username\":\"erin\",\"password\":\"Good-Password-88\",\"meaning\":\"reviewed\"}";
        Http.Response empty = erin.post("/api/v1/audit/reviews", "{\"from\":\"2026-01-01\",\"to\":\"2026-02-01\","
                + "\"conclusion\":\"no findings\"" + sig + "}");
        assertThat(empty.status()).as(empty.text()).isEqualTo(422);
        assertThat(empty.json().path("code").asText()).isEqualTo("review-period-empty");
        String today = java.time.LocalDate.now(java.time.ZoneOffset.UTC).toString();
        JsonNode day = erin.post("/api/v1/audit/reviews", "{\"from\":\"" + today + "\",\"to\":\"" + today + "\","
                + "\"conclusion\":\"no findings\"" + sig + "}").expect(201).json();
        assertThat(day.path("records").asLong()).as("today's records, up to now").isPositive();
        assertThat(signed.path("signature").path("printedName").asText()).isEqualTo("ERIN Person");
        assertThat(signed.path("signature").path("meaning").asText()).isEqualTo("reviewed");
        JsonNode record = erin.get("/api/v1/audit?action=audit.review&limit=1").expect(200).json().get(0);
        assertThat(record.path("signature").path("printedName").asText()).isEqualTo("ERIN Person");
        assertThat(record.path("signature").path("signedAt").asText()).isNotEmpty();
        // shown in the exports
        Http.Response csv = erin.get("/api/v1/audit/export?format=csv&action=audit.review");
        assertThat(csv.status()).isEqualTo(200);
        assertThat(csv.text()).contains("signed_by", "ERIN Person", "reviewed");
        Http.Response pdf = erin.get("/api/v1/audit/export?format=pdf&action=audit.*");
        assertThat(pdf.status()).isEqualTo(200);
        assertThat(pdf.contentType()).isEqualTo("application/pdf");
        String text;
        try (var doc = org.apache.pdfbox.Loader.loadPDF(pdf.text().getBytes(StandardCharsets.ISO_8859_1))) {
            text = new org.apache.pdfbox.text.PDFTextStripper().getText(doc);
        } catch (java.io.IOException e) {
            text = "";
        }
        // the test client reads bodies as text; if that mangled the binary PDF, read it raw
        if (text.isEmpty()) {
            byte[] raw = http().withToken(erinToken(erin)).bytes("/api/v1/audit/export?format=pdf&action=audit.*");
            try (var doc = org.apache.pdfbox.Loader.loadPDF(raw)) {
                text = new org.apache.pdfbox.text.PDFTextStripper().getText(doc);
            }
        }
        assertThat(text).contains("Audit trail report", "ELECTRONIC SIGNATURE: ERIN Person", "meaning: reviewed",
                "audit trail intact");
    }

    private static String erinToken(Http erin) {
        return erin.post("/api/v1/auth/tokens", "{\"name\":\"pdf-" + System.nanoTime() + "\",\"expiresInDays\":1}")
                .expect(201).json().path("token").asText();
    }

    @Test
    void malformedAuditQueriesNameTheField() {
        Http.Response r = admin.get("/api/v1/audit?from=yesterday");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().path("errors").get(0).path("field").asText()).isEqualTo("from");
        Http.Response reversed = admin.get("/api/v1/audit?from=2026-11-02&to=2026-11-01");
        assertThat(reversed.status()).isEqualTo(400);
        assertThat(reversed.json().path("errors").get(0).path("field").asText()).isEqualTo("to");
        assertThat(admin.get("/api/v1/audit?limit=0").status()).isEqualTo(400);
        assertThat(admin.get("/api/v1/audit/export?format=docx").json().path("errors").get(0).path("field").asText())
                .isEqualTo("format");
        // a well-formed range works and filters
        JsonNode since = admin.get("/api/v1/audit?from=2026-01-01T00:00:00Z&user=admin&limit=5").expect(200).json();
        assertThat(since).allSatisfy(x -> assertThat(x.path("actor").asText()).isEqualTo("admin"));
    }

    @Test
    void noEndpointChangesOrDeletesAuditRecords() {
        for (String key : AccessPolicy.all().keySet()) {
            if (key.contains("/audit")) {
                assertThat(key).doesNotStartWith("DELETE").doesNotStartWith("PATCH").doesNotStartWith("PUT");
            }
        }
        assertThat(admin.delete("/api/v1/audit").status()).isIn(404, 405);
        JsonNode verify = admin.post("/api/v1/audit/verify", null).expect(200).json();
        assertThat(verify.path("ok").asBoolean()).as(verify.toString()).isTrue();
    }
}
