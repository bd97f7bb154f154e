package org.carevisor.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The authentication commands against a stub manager (no real manager needed). */
class CliAuthTest {
    /** One request the stub received. */
    record Request(String method, String uri, String authorization, String reason, String body) {
        JsonNode json() throws Exception {
            return ApiClient.json().readTree(body);
        }
    }

    /** One canned answer. */
    record Answer(int status, String body, Map<String, String> headers) {
        static Answer json(int status, String body) {
            return new Answer(status, body, Map.of("Content-Type", "application/json"));
        }
    }

    @TempDir
    Path dir;

    HttpServer server;
    String url;
    final List<Request> requests = new CopyOnWriteArrayList<>();
    final Map<String, Answer> answers = new HashMap<>();

    @BeforeEach
    void start() throws Exception {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", ex -> {
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            requests.add(new Request(ex.getRequestMethod(), ex.getRequestURI().toString(),
                    ex.getRequestHeaders().getFirst("Authorization"), ex.getRequestHeaders().getFirst("Carevisor-Reason"),
                    body));
            Answer a = answers.getOrDefault(ex.getRequestMethod() + " " + ex.getRequestURI().getPath(),
                    Answer.json(404, "{\"code\":\"not-found\",\"detail\":\"no such thing\"}"));
            a.headers().forEach((k, v) -> ex.getResponseHeaders().add(k, v));
            byte[] bytes = a.body().getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(a.status(), a.status() == 204 ? -1 : bytes.length);
            if (a.status() != 204) {
                ex.getResponseBody().write(bytes);
            }
            ex.close();
        });
        server.start();
        url = "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    record Run(int code, String out, String err) {
    }

    Run cli(CarevisorCli root, ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) {
        List<String> full = new ArrayList<>(List.of("--url", url));
        full.addAll(List.of(args));
        int code = CarevisorCli.execute(root, full.toArray(String[]::new));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** A CLI run with no environment, the session in the temp dir, and {@code stdin} as standard input. */
    Run cli(String stdin, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CarevisorCli root = new CarevisorCli(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        root.env = name -> null;
        root.sessionFile(dir.resolve("cli").resolve("session"));
        root.stdin(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
        root.passwords(prompt -> {
            throw new AssertionError("unexpected prompt " + prompt);
        });
        return cli(root, out, err, args);
    }

    void loggedIn() {
        new Session(url, "cvs_session", "alice", "2099-01-01T00:00:00Z").write(dir.resolve("cli").resolve("session"));
    }

    @Test
    void loginSavesTheSessionAndLaterCommandsSendIt() throws Exception {
        answers.put("POST /api/v1/auth/login", Answer.json(201, """
                {"id":"s1","token":"cvs_session","kind":"session","expiresAt":"2026-11-22T20:00:00Z",
                 "idleTimeoutMinutes":15,"username":"alice","fullName":"Alice Example","mustChangePassword":true}"""));
        Run login = cli("s3cret pass\n", "login", "alice", "--password-stdin");
        assertThat(login.code()).as(login.err()).isZero();
        assertThat(login.out()).contains("Alice Example (alice)", "15 minutes", "carevisor passwd");
        JsonNode sent = requests.get(0).json();
        assertThat(sent.path("username").asText()).isEqualTo("alice");
        assertThat(sent.path("password").asText()).isEqualTo("s3cret pass");
        assertThat(requests.get(0).authorization()).isNull();

        Path file = dir.resolve("cli").resolve("session");
        assertThat(Session.read(file)).isEqualTo(new Session(url, "cvs_session", "alice", "2026-11-22T20:00:00Z"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");

        answers.put("GET /api/v1/auth/whoami", Answer.json(200, """
                {"id":"u1","username":"alice","fullName":"Alice Example","email":null,"roles":[{"id":"a1",
                 "role":"operator","scope":"cluster:c1"}],"session":{"id":"s1","kind":"session"},
                 "idleTimeoutMinutes":15,"privileges":[{"role":"operator","scope":"cluster:c1",
                 "privileges":["Sys.View","VM.PowerState"]}]}"""));
        Run who = cli("", "whoami");
        assertThat(who.code()).as(who.err()).isZero();
        assertThat(who.out()).contains("alice (Alice Example)", "operator@cluster:c1", "VM.PowerState");
        assertThat(requests.get(1).authorization()).isEqualTo("Bearer cvs_session");

        answers.put("POST /api/v1/auth/logout", new Answer(204, "", Map.of()));
        Run logout = cli("", "logout");
        assertThat(logout.code()).as(logout.err()).isZero();
        assertThat(requests.get(2).authorization()).isEqualTo("Bearer cvs_session");
        assertThat(file).doesNotExist();
    }

    @Test
    void tokenOptionWinsAndReasonIsSentAsHeader() {
        loggedIn();
        answers.put("POST /api/v1/vms/db-1/start", Answer.json(202, """
                {"id":"t1","kind":"vm.start","state":"succeeded","message":"VM db-1 started"}"""));
        Run r = cli("", "--token", "cvt_api", "--reason", "CHG-77 restart after patch", "vm", "start", "db-1");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(requests.get(0).authorization()).isEqualTo("Bearer cvt_api");
        assertThat(requests.get(0).reason()).isEqualTo("CHG-77 restart after patch");
    }

    @Test
    void notAuthenticatedAndForbiddenHaveTheirExitCodes() {
        answers.put("GET /api/v1/vms", Answer.json(401, """
                {"code":"not-authenticated","detail":"no credentials"}"""));
        Run r = cli("", "vm", "list");
        assertThat(r.code()).isEqualTo(ExitCodes.NOT_AUTHENTICATED);
        assertThat(r.err()).contains("no credentials [not-authenticated]", "log in: carevisor login USER");
        assertThat(requests.get(0).authorization()).isNull();

        loggedIn();
        answers.put("GET /api/v1/users", Answer.json(403, """
                {"code":"forbidden","detail":"user 'alice' lacks the privilege User.Admin on everything"}"""));
        Run f = cli("", "user", "list");
        assertThat(f.code()).isEqualTo(ExitCodes.FORBIDDEN);
        assertThat(f.err()).contains("User.Admin");
    }

    @Test
    void signatureIsAskedForAndSent() throws Exception {
        loggedIn();
        answers.put("DELETE /api/v1/vms/db-1", Answer.json(202, """
                {"id":"t2","kind":"vm.delete","state":"succeeded","message":"VM db-1 deleted"}"""));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CarevisorCli root = new CarevisorCli(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        root.env = name -> null;
        root.sessionFile(dir.resolve("cli").resolve("session"));
        List<String> prompts = new ArrayList<>();
        root.passwords(p -> {
            prompts.add(p);
            return "pw-alice";
        });
        Run r = cli(root, out, err, "vm", "delete", "db-1", "--force", "--sign", "approved");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(prompts).containsExactly("Password of alice to sign (approved): ");
        Request delete = requests.get(0);
        assertThat(delete.method()).isEqualTo("DELETE");
        assertThat(delete.uri()).isEqualTo("/api/v1/vms/db-1?force=true");
        JsonNode sig = delete.json().path("signature");
        assertThat(sig.path("username").asText()).isEqualTo("alice");
        assertThat(sig.path("password").asText()).isEqualTo("pw-alice");
        assertThat(sig.path("meaning").asText()).isEqualTo("approved");

        // without --sign nothing changes in the request; the server's refusal tells what to add
        requests.clear();
        answers.put("DELETE /api/v1/vms/db-2", Answer.json(403, """
                {"code":"signature-required","detail":"vm.delete of VM 'db-2' is a critical action"}"""));
        Run unsigned = cli("", "vm", "delete", "db-2");
        assertThat(unsigned.code()).as("a missing signature is its own category, not forbidden").isEqualTo(ExitCodes.SIGNATURE);
        assertThat(unsigned.err()).contains("add --sign approved");
        assertThat(requests.get(0).body()).isEmpty();

        Run bad = cli("", "vm", "delete", "db-2", "--sign", "because");
        assertThat(bad.code()).isEqualTo(ExitCodes.USAGE);
    }

    @Test
    void qualifyCarriesReasonAndSignatureInTheBody() throws Exception {
        loggedIn();
        answers.put("POST /api/v1/templates/ehr/qualify", Answer.json(202, """
                {"id":"t3","kind":"template.qualify","state":"succeeded","message":"qualified"}"""));
        Run r = cli("pw-alice\n", "template", "qualify", "ehr", "--reason", "IQ/OQ-Bericht für 2026",
                "--sign", "approved", "--password-stdin");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode body = requests.get(0).json();
        assertThat(body.path("reason").asText()).isEqualTo("IQ/OQ-Bericht für 2026");
        assertThat(body.path("signature").path("password").asText()).isEqualTo("pw-alice");
        assertThat(requests.get(0).reason()).isNull(); // not ASCII: only in the body
    }

    @Test
    void passwdReadsTwoLines() throws Exception {
        loggedIn();
        answers.put("POST /api/v1/auth/password", new Answer(204, "", Map.of()));
        Run r = cli("old-one\nnew-password-2026\n", "passwd", "--password-stdin");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode body = requests.get(0).json();
        assertThat(body.path("currentPassword").asText()).isEqualTo("old-one");
        assertThat(body.path("newPassword").asText()).isEqualTo("new-password-2026");
    }

    @Test
    void auditExportWritesTheFileTheManagerNames() throws Exception {
        loggedIn();
        answers.put("GET /api/v1/audit/export", new Answer(200, "seq,at\n1,2026-11-01T00:00:00Z\n",
                Map.of("Content-Type", "text/csv", "Content-Disposition",
                        "attachment; filename=\"carevisor-audit-x.csv\"")));
        Path out = dir.resolve("audit.csv");
        Run r = cli("", "audit", "export", "--format", "csv", "--from", "2026-11-01", "--action", "vm.*",
                "--output", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Files.readString(out)).startsWith("seq,at");
        assertThat(requests.get(0).uri()).isEqualTo("/api/v1/audit/export?format=csv&from=2026-11-01&action=vm.*");
    }

    @Test
    void auditListShowsSignaturesAndVerifyFailsOnDamage() {
        loggedIn();
        answers.put("GET /api/v1/audit", Answer.json(200, """
                [{"seq":7,"at":"2026-11-02T10:00:00Z","actor":"alice","action":"template.qualify",
                  "targetName":"ehr v1","outcome":"success","reason":"IQ",
                  "signature":{"printedName":"Alice Example","meaning":"approved","signedAt":"2026-11-02T10:00:00Z"}}]"""));
        Run list = cli("", "audit", "list", "--user", "alice", "--asc");
        assertThat(list.code()).as(list.err()).isZero();
        assertThat(list.out()).contains("SIGNED", "Alice Example (approved)");
        assertThat(requests.get(0).uri()).isEqualTo("/api/v1/audit?limit=50&user=alice&order=asc");

        answers.put("POST /api/v1/audit/verify", Answer.json(200, """
                {"ok":false,"records":9,"firstSeq":1,"lastSeq":9,"first":{"seq":4,"kind":"altered",
                 "detail":"record 4 was changed"},"problems":[{"seq":4,"kind":"altered","detail":"record 4 was changed"}],
                 "summary":"AUDIT TRAIL DAMAGED: first problem at record 4"}"""));
        Run verify = cli("", "audit", "verify");
        assertThat(verify.code()).isEqualTo(ExitCodes.ERROR);
        assertThat(verify.out()).contains("AUDIT TRAIL DAMAGED", "altered");
        assertThat(verify.err()).contains("first problem at record 4 (altered)");
    }

    @Test
    void administrationCommandsSendTheDocumentedRequests() throws Exception {
        loggedIn();
        String user = """
                {"user":{"id":"u2","username":"bob","fullName":"Bob Meier","enabled":true,
                 "roles":[{"id":"a1","role":"operator","scope":"cluster:icu"}]},"temporaryPassword":"Tmp-123-xyz"}""";
        answers.put("POST /api/v1/users", Answer.json(201, user));
        Run created = cli("", "user", "create", "bob", "--full-name", "Bob Meier", "--role", "operator@cluster:icu",
                "--role", "read-only");
        assertThat(created.code()).as(created.err()).isZero();
        assertThat(created.out()).contains("Tmp-123-xyz", "operator@cluster:icu");
        JsonNode body = requests.get(0).json();
        assertThat(body.path("roles").toString())
                .isEqualTo("[{\"role\":\"operator\",\"scope\":\"cluster:icu\"},{\"role\":\"read-only\",\"scope\":\"global\"}]");

        answers.put("PATCH /api/v1/users/bob", Answer.json(200, """
                {"id":"u2","username":"bob","fullName":"Bob Meier","enabled":false,"roles":[]}"""));
        Run disabled = cli("", "user", "set", "bob", "--disable", "--reason", "left the company");
        assertThat(disabled.code()).as(disabled.err()).isZero();
        assertThat(requests.get(1).json().toString()).isEqualTo("{\"enabled\":false}");
        assertThat(requests.get(1).reason()).isEqualTo("left the company");
        assertThat(cli("", "user", "set", "bob", "--enable", "--disable").code()).isEqualTo(ExitCodes.USAGE);

        answers.put("POST /api/v1/users/bob/roles", Answer.json(201, """
                {"id":"u2","username":"bob","roles":[{"id":"a2","role":"auditor","scope":"global"}]}"""));
        Run grant = cli("", "user", "grant", "bob", "auditor");
        assertThat(grant.code()).as(grant.err()).isZero();
        assertThat(requests.get(2).json().toString()).isEqualTo("{\"role\":\"auditor\",\"scope\":\"global\"}");

        answers.put("POST /api/v1/roles", Answer.json(201, """
                {"id":"r9","name":"starter","builtin":false,"privileges":["Sys.View","VM.PowerState"]}"""));
        Run role = cli("", "role", "create", "starter", "--privilege", "Sys.View,VM.PowerState");
        assertThat(role.code()).as(role.err()).isZero();
        assertThat(requests.get(3).json().path("privileges").toString()).isEqualTo("[\"Sys.View\",\"VM.PowerState\"]");

        answers.put("PATCH /api/v1/settings/security", Answer.json(200, """
                {"sessionIdleMinutes":10,"reasonRequiredFor":[],"signatureRequiredFor":["vm.delete"]}"""));
        Run settings = cli("", "settings", "set", "--idle-minutes", "10", "--reason-required", "none",
                "--signature-required", "vm.delete");
        assertThat(settings.code()).as(settings.err()).isZero();
        assertThat(requests.get(4).json().toString()).isEqualTo(
                "{\"sessionIdleMinutes\":10,\"reasonRequiredFor\":[],\"signatureRequiredFor\":[\"vm.delete\"]}");
        assertThat(settings.out()).contains("reasonRequiredFor:", "(none)");

        answers.put("POST /api/v1/auth/tokens", Answer.json(201, """
                {"id":"k1","token":"cvt_new","kind":"api","name":"backup","expiresAt":"2026-12-22T00:00:00Z"}"""));
        Run token = cli("", "token", "create", "backup", "--days", "30");
        assertThat(token.code()).as(token.err()).isZero();
        assertThat(token.out()).contains("cvt_new");
        assertThat(requests.get(5).json().toString()).isEqualTo("{\"name\":\"backup\",\"expiresInDays\":30}");

        answers.put("POST /api/v1/audit/reviews", Answer.json(201, """
                {"id":"rv1","from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z","records":12,"chainIntact":true,
                 "signature":{"printedName":"Alice Example","meaning":"reviewed","signedAt":"2026-12-01T09:00:00Z"}}"""));
        Run review = cli("pw-alice\n", "audit", "review", "create", "--from", "2026-11-01", "--to", "2026-12-01",
                "--conclusion", "no findings", "--sign", "reviewed", "--password-stdin");
        assertThat(review.code()).as(review.err()).isZero();
        assertThat(review.out()).contains("12 records", "chain intact", "Alice Example (reviewed)");
        JsonNode r = requests.get(6).json();
        assertThat(r.path("conclusion").asText()).isEqualTo("no findings");
        assertThat(r.path("signature").toString())
                .isEqualTo("{\"username\":\"alice\",\"password\":\"pw-alice\",\"meaning\":\"reviewed\"}");
    }
}
