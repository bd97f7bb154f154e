package org.carevisor.manager.api;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The HTTP rules of the API server against a running manager: security headers on every answer (web console,
 * API, errors), JSON as the only request body (a cross-site {@code text/plain} login is refused 415 and
 * audited, and no session is made), 500 answers with an incident id and no internals, bounded limit and
 * offset on every list, strict JSON types in what the guard and the endpoints read.
 */
class HttpHardeningTest {
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

    static long head() {
        return admin.get("/api/v1/audit/checkpoints").expect(200).json().path("head").path("seq").asLong();
    }

    private static void assertSecurityHeaders(Http.Response r, boolean api) {
        assertThat(r.header("Content-Security-Policy")).as(r.toString())
                .contains("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'")
                .doesNotContain("unsafe-inline", "unsafe-eval");
        assertThat(r.header("X-Frame-Options")).isEqualTo("DENY");
        assertThat(r.header("X-Content-Type-Options")).isEqualTo("nosniff");
        assertThat(r.header("Referrer-Policy")).isEqualTo("no-referrer");
        if (api) {
            assertThat(r.header("Cache-Control")).isEqualTo("no-store");
        }
    }

    @Test
    void everyAnswerCarriesTheSecurityHeaders() {
        Http.Response page = http().get("/");
        assertThat(page.status()).isEqualTo(200);
        assertSecurityHeaders(page, false);
        // the console works under that policy: no inline script, style or event handler attribute
        assertThat(page.text()).containsPattern("<script src=\"/app.js\"></script>")
                .doesNotContainPattern("<script(?![^>]*\\bsrc=)[^>]*>")
                .doesNotContainPattern("(?i)\\son[a-z]+\\s*=").doesNotContainPattern("(?i)\\sstyle\\s*=");
        assertSecurityHeaders(http().get("/app.js").expect(200), false);
        assertSecurityHeaders(http().get("/api/v1/health").expect(200), true);
        assertSecurityHeaders(http().get("/api/v1/vms").expect(401), true);
        assertSecurityHeaders(admin.get("/api/v1/vms").expect(200), true);
        assertSecurityHeaders(admin.get("/api/v1/no-such-thing").expect(404), true);
        assertSecurityHeaders(admin.get("/api/v1/tasks?limit=-1").expect(400), true);
    }

    @Test
    void aCrossSiteTextPlainLoginIsRefusedAndAudited() {
        String credentials = "{\"username\":\"" + Lab.ADMIN + "\",\"password\":\"" + Lab.ADMIN_PASSWORD + "\"}";
        long sessions = admin.get("/api/v1/audit?action=auth.login&limit=10000").json().size();
        for (String type : new String[] {"text/plain", "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1",
            "application/jsonp", null}) {
            Http.Response r = http().sendAs("POST", "/api/v1/auth/login", type, credentials);
            assertThat(r.status()).as(type + ": " + r.text()).isEqualTo(415);
            assertThat(r.contentType()).startsWith("application/problem+json");
            assertThat(r.json().path("code").asText()).isEqualTo("unsupported-media-type");
            assertThat(r.json().path("detail").asText()).contains(type == null ? "no Content-Type" : type,
                    "application/json");
            assertThat(r.json().has("token")).isFalse();
            assertSecurityHeaders(r, true);
        }
        // no login happened (no auth.login record, no session), and the refusal is in the trail
        assertThat(admin.get("/api/v1/audit?action=auth.login&limit=10000").json().size()).isEqualTo(sessions);
        JsonNode refused = admin.get("/api/v1/audit?action=request.refused&limit=1").expect(200).json().get(0);
        assertThat(refused.path("outcome").asText()).isEqualTo("refused");
        assertThat(refused.path("targetName").asText()).isEqualTo("POST /api/v1/auth/login");
        assertThat(refused.path("newValue").path("contentType").asText()).startsWith("text/plain");
        assertThat(refused.path("reason").asText()).contains("takes a JSON body only");
        // the same login as JSON works, with or without the UTF-8 charset
        assertThat(http().sendAs("POST", "/api/v1/auth/login", "application/json; charset=UTF-8", credentials)
                .status()).isEqualTo(201);
        assertThat(http().sendAs("POST", "/api/v1/auth/login", "Application/JSON", credentials).status())
                .isEqualTo(201);
    }

    @Test
    void anAuthenticatedChangeAsFormDataChangesNothing() {
        Http.Response r = admin.sendAs("POST", "/api/v1/clusters", "application/x-www-form-urlencoded",
                "{\"name\":\"dmz\"}");
        assertThat(r.status()).isEqualTo(415);
        assertThat(admin.get("/api/v1/clusters").json().findValuesAsText("name")).doesNotContain("dmz");
        // requests without a body need no Content-Type
        assertThat(admin.post("/api/v1/audit/verify", null).status()).isEqualTo(200);
    }

    @Test
    void anInternalErrorNamesAnIncidentAndNothingElse() {
        Logger log = (Logger) LoggerFactory.getLogger(HttpHardening.class);
        ListAppender<ILoggingEvent> events = new ListAppender<>();
        events.start();
        log.addAppender(events);
        // a real database failure: the table the endpoint reads is gone
        manager.database().jdbi().useHandle(h -> h.execute("ALTER TABLE networks RENAME TO networks_away"));
        try {
            Http.Response r = admin.get("/api/v1/networks");
            assertThat(r.status()).isEqualTo(500);
            assertSecurityHeaders(r, true);
            JsonNode p = r.json();
            assertThat(p.path("code").asText()).isEqualTo("internal-error");
            String incident = p.path("incident").asText();
            assertThat(incident).matches("[0-9a-f-]{36}");
            assertThat(p.path("detail").asText()).contains(incident);
            String answer = ((com.fasterxml.jackson.databind.node.ObjectNode) p.deepCopy()).without("instance").toString();
            assertThat(answer).doesNotContainIgnoringCase("networks").doesNotContainIgnoringCase("sql")
                    .doesNotContain("org.", "Exception", "jdbc", "h2");
            // the details are in the log, under the same id
            ILoggingEvent logged = events.list.stream().filter(e -> e.getFormattedMessage().contains(incident))
                    .findFirst().orElseThrow();
            assertThat(logged.getThrowableProxy()).isNotNull();
            StringBuilder causes = new StringBuilder();
            for (var t = logged.getThrowableProxy(); t != null; t = t.getCause()) {
                causes.append(t.getMessage()).append('\n');
            }
            assertThat(causes.toString()).containsIgnoringCase("NETWORKS");
        } finally {
            manager.database().jdbi().useHandle(h -> h.execute("ALTER TABLE networks_away RENAME TO networks"));
            log.detachAppender(events);
        }
        admin.get("/api/v1/networks").expect(200);
    }

    @Test
    void everyListHasBoundedLimitsAndOffsets() {
        record Case(String path, String field) {
        }
        List<Case> bad = List.of(new Case("/api/v1/tasks?limit=-1", "limit"), new Case("/api/v1/tasks?limit=0", "limit"),
                new Case("/api/v1/tasks?limit=1001", "limit"), new Case("/api/v1/tasks?limit=abc", "limit"),
                new Case("/api/v1/tasks?limit=99999999999999999999", "limit"),
                new Case("/api/v1/tasks?offset=-1", "offset"), new Case("/api/v1/tasks?offset=1000001", "offset"),
                new Case("/api/v1/migrations?limit=-1", "limit"), new Case("/api/v1/migrations?offset=-5", "offset"),
                new Case("/api/v1/vms/any/history?limit=-1", "limit"),
                new Case("/api/v1/vms/any/history?limit=1001", "limit"),
                new Case("/api/v1/vms/any/console?max=0", "max"),
                new Case("/api/v1/vms/any/console?max=300000", "max"),
                new Case("/api/v1/audit?limit=0", "limit"), new Case("/api/v1/audit?limit=10001", "limit"),
                new Case("/api/v1/audit/export?limit=-1", "limit"));
        for (Case c : bad) {
            Http.Response r = admin.get(c.path());
            assertThat(r.status()).as(c.path() + " -> " + r.text()).isEqualTo(400);
            assertThat(r.json().path("errors").findValuesAsText("field")).as(c.path()).containsExactly(c.field());
        }
        assertThat(admin.get("/api/v1/tasks?limit=1000&offset=1000000").expect(200).json()).isEmpty();
        assertThat(admin.get("/api/v1/migrations?limit=1000").status()).isEqualTo(200);
    }

    @Test
    void bodyValuesMustHaveTheirJsonType() {
        admin.post("/api/v1/roles", "{\"name\":\"vm-admin\",\"privileges\":[\"VM.Configure\",\"Sys.View\"]}")
                .expect(201);
        admin.post("/api/v1/clusters", "{\"name\":\"42\"}").expect(201);
        admin.post("/api/v1/users", "{\"username\":\"dora\",\"fullName\":\"Dora\",\"password\":\"Temporary-Password-1\","
                + "\"roles\":[{\"role\":\"vm-admin\",\"scope\":\"cluster:default\"}]}").expect(201);
        http().login("dora", "Temporary-Password-1").post("/api/v1/auth/password", "{\"currentPassword\":"
                + "\"Temporary-Password-1\",\"newPassword\":\"Quiet-River-2026-x\"}").expect(204);
        Http dora = http().login("dora", "Quiet-River-2026-x");
        String vms = admin.get("/api/v1/vms").json().toString();
        long before = head();
        // a number is not the name of cluster "42" (the guard and the endpoint read the same strict body)
        Map<String, String> cases = Map.of(
                "{\"name\":\"x1\",\"cpus\":1,\"memoryMiB\":64,\"image\":\"blank\",\"cluster\":42}", "cluster",
                "{\"name\":\"x2\",\"cpus\":1,\"memoryMiB\":64,\"image\":\"blank\",\"host\":true}", "host",
                "{\"name\":\"x3\",\"cpus\":\"1\",\"memoryMiB\":64,\"image\":\"blank\"}", "cpus",
                "{\"name\":\"x4\",\"cpus\":1,\"memoryMiB\":64,\"image\":\"blank\",\"start\":1}", "start",
                "{\"name\":\"x5\",\"cpus\":1,\"memoryMiB\":64,\"image\":\"blank\",\"cluster\":[\"42\"]}", "cluster",
                "[{\"name\":\"x6\"}]", "body");
        cases.forEach((body, field) -> {
            Http.Response r = dora.post("/api/v1/vms", body);
            assertThat(r.status()).as(body + " -> " + r.text()).isEqualTo(400);
            assertThat(r.json().path("errors").findValuesAsText("field")).as(body).containsExactly(field);
        });
        assertThat(dora.post("/api/v1/vms", "{\"name\":\"x1\",\"cluster\":42}").json().path("errors").get(0)
                .path("message").asText()).isEqualTo("must be a JSON string, not the number 42");
        // a reason or signature of the wrong type is refused too, not ignored
        Http.Response reason = admin.patch("/api/v1/clusters/default/ha", "{\"admissionControl\":false,\"reason\":5}");
        assertThat(reason.status()).isEqualTo(400);
        assertThat(reason.json().path("errors").findValuesAsText("field")).containsExactly("reason");
        Http.Response signature = admin.post("/api/v1/audit/reviews", "{\"from\":\"2026-01-01\",\"to\":\"2026-02-01\","
                + "\"conclusion\":\"no findings\",\"signature\":\"approved\"}");
        assertThat(signature.status()).as(signature.text()).isEqualTo(400);
        assertThat(signature.json().path("errors").findValuesAsText("field")).containsExactly("signature");
        assertThat(admin.get("/api/v1/vms").json().toString()).isEqualTo(vms);
        assertThat(head()).isEqualTo(before);
        // the cluster named "42" by a string is dora's to check against (she has no role there)
        Http.Response named = dora.post("/api/v1/vms", "{\"name\":\"x7\",\"cpus\":1,\"memoryMiB\":64,"
                + "\"image\":\"blank\",\"cluster\":\"42\"}");
        assertThat(named.status()).isEqualTo(403);
        assertThat(named.json().path("detail").asText()).contains("VM.Configure", "cluster '42'");
    }

    @Test
    void anOversizedBodyIsAProblemDocument() {
        Http.Response r = admin.post("/api/v1/clusters", "{\"name\":\"" + "x".repeat(1_100_000) + "\"}");
        assertThat(r.status()).isEqualTo(413);
        assertThat(r.contentType()).startsWith("application/problem+json");
        assertThat(r.json().path("code").asText()).isEqualTo("request-too-large");
    }
}
