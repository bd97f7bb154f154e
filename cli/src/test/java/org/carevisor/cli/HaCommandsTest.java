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

/** vm ha, cluster ha, host fence and ha status against a stub manager (no real manager needed). */
class HaCommandsTest {
    /** One request the stub received. */
    record Request(String method, String uri, String reason, String body) {
        JsonNode json() throws Exception {
            return ApiClient.json().readTree(body);
        }
    }

    @TempDir
    Path dir;

    HttpServer server;
    String url;
    final List<Request> requests = new CopyOnWriteArrayList<>();
    /** Canned JSON answers by "METHOD /path": status and body. */
    final Map<String, Map.Entry<Integer, String>> answers = new HashMap<>();
    /** The environment the CLI sees. */
    final Map<String, String> env = new HashMap<>();

    @BeforeEach
    void start() throws Exception {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", ex -> {
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            requests.add(new Request(ex.getRequestMethod(), ex.getRequestURI().toString(),
                    ex.getRequestHeaders().getFirst("Carevisor-Reason"), body));
            Map.Entry<Integer, String> a = answers.getOrDefault(ex.getRequestMethod() + " " + ex.getRequestURI().getPath(),
                    Map.entry(404, "{\"code\":\"not-found\",\"detail\":\"no such thing\"}"));
            ex.getResponseHeaders().add("Content-Type", a.getKey() >= 400 ? "application/problem+json" : "application/json");
            byte[] bytes = a.getValue().getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(a.getKey(), bytes.length);
            ex.getResponseBody().write(bytes);
            ex.close();
        });
        server.start();
        url = "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    void answer(String request, int status, String body) {
        answers.put(request, Map.entry(status, body));
    }

    record Run(int code, String out, String err) {
    }

    /** A CLI run with a token, {@link #env} as its environment and {@code stdin} as standard input. */
    Run cliWithStdin(String stdin, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CarevisorCli root = new CarevisorCli(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        root.env = env::get;
        root.token("cvt_test");
        root.sessionFile(dir.resolve("session"));
        root.stdin(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
        List<String> full = new ArrayList<>(List.of("--url", url));
        full.addAll(List.of(args));
        int code = CarevisorCli.execute(root, full.toArray(String[]::new));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    Run cli(String... args) {
        return cliWithStdin("", args);
    }

    static final String VM_HA = """
            {"vm":"db-1","enabled":true,"priority":80,"dependsOn":["dns-1","ldap-1"],"healthCheck":"tcp:5432",
             "healthIntervalSeconds":10,"healthFailures":3,"maxRestartsPerHour":5}""";

    // ---- vm ha

    @Test
    void vmHaWithoutOptionsShowsTheSettings() {
        answer("GET /api/v1/vms/db-1/ha", 200, VM_HA);
        Run r = cli("vm", "ha", "db-1");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(requests).extracting(Request::method).containsExactly("GET");
        assertThat(r.out()).contains("enabled:               true", "priority:              80",
                "dependsOn:             dns-1, ldap-1", "healthCheck:           tcp:5432",
                "maxRestartsPerHour:    5");
    }

    @Test
    void vmHaChangeSendsOnlyTheGivenFields() throws Exception {
        answer("PATCH /api/v1/vms/db-1/ha", 200, VM_HA);
        Run r = cli("vm", "ha", "db-1", "--enable", "--priority", "80", "--depends-on", "dns-1, ldap-1",
                "--health-check", "tcp:5432", "--reason", "CHG-1234 protect the database");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(requests).hasSize(1);
        Request patch = requests.get(0);
        assertThat(patch.method()).isEqualTo("PATCH");
        assertThat(patch.uri()).isEqualTo("/api/v1/vms/db-1/ha");
        assertThat(patch.json().toString()).isEqualTo(
                "{\"enabled\":true,\"priority\":80,\"dependsOn\":[\"dns-1\",\"ldap-1\"],\"healthCheck\":\"tcp:5432\"}");
        assertThat(patch.reason()).isEqualTo("CHG-1234 protect the database");
        assertThat(r.out()).contains("dependsOn:             dns-1, ldap-1");

        Run tuning = cli("vm", "ha", "db-1", "--health-interval", "10", "--health-failures", "3",
                "--max-restarts-per-hour", "5");
        assertThat(tuning.code()).as(tuning.err()).isZero();
        assertThat(requests.get(1).json().toString())
                .isEqualTo("{\"healthIntervalSeconds\":10,\"healthFailures\":3,\"maxRestartsPerHour\":5}");
        assertThat(requests.get(1).reason()).isNull();

        // an empty --depends-on clears the list, --no-health-check removes the check (the API's "")
        answer("PATCH /api/v1/vms/db-1/ha", 200, """
                {"vm":"db-1","enabled":false,"priority":80,"dependsOn":[],"healthCheck":null,
                 "healthIntervalSeconds":10,"healthFailures":3,"maxRestartsPerHour":5}""");
        Run clear = cli("vm", "ha", "db-1", "--disable", "--depends-on", "", "--no-health-check");
        assertThat(clear.code()).as(clear.err()).isZero();
        assertThat(requests.get(2).json().toString())
                .isEqualTo("{\"enabled\":false,\"dependsOn\":[],\"healthCheck\":\"\"}");
        assertThat(clear.out()).contains("dependsOn:             (none)", "healthCheck:           -");
    }

    @Test
    void vmHaRefusesContradictoryOptionsWithoutAsking() {
        assertThat(cli("vm", "ha", "db-1", "--enable", "--disable").code()).isEqualTo(ExitCodes.USAGE);
        assertThat(cli("vm", "ha", "db-1", "--health-check", "tcp:22", "--no-health-check").code())
                .isEqualTo(ExitCodes.USAGE);
        Run empty = cli("vm", "ha", "db-1", "--health-check", "");
        assertThat(empty.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(empty.err()).contains("--no-health-check");
        assertThat(requests).isEmpty();
    }

    @Test
    void problemDocumentsAreShownWithTheirExitCodes() {
        answer("PATCH /api/v1/vms/db-1/ha", 400, """
                {"type":"about:blank","title":"Invalid request","status":400,"code":"invalid",
                 "detail":"2 fields are invalid","errors":[
                  {"field":"priority","message":"must be 0..100 (higher restarts first), not 120"},
                  {"field":"dependsOn","message":"no VM 'nope'"}]}""");
        Run r = cli("vm", "ha", "db-1", "--priority", "120", "--depends-on", "nope");
        assertThat(r.code()).isEqualTo(ExitCodes.INVALID);
        assertThat(r.err()).contains("carevisor: 2 fields are invalid", "- priority: must be 0..100",
                "- dependsOn: no VM 'nope'", "[invalid]");

        Run missing = cli("cluster", "ha", "nope");
        assertThat(missing.code()).isEqualTo(ExitCodes.NOT_FOUND);
        assertThat(missing.err()).contains("no such thing [not-found]");

        answer("GET /api/v1/hosts/h1/fence", 403, """
                {"code":"forbidden","detail":"user 'olga' lacks the privilege Host.Admin on host h1"}""");
        Run forbidden = cli("host", "fence", "h1");
        assertThat(forbidden.code()).isEqualTo(ExitCodes.FORBIDDEN);
        assertThat(forbidden.err()).contains("lacks the privilege Host.Admin", "carevisor user grant");
    }

    // ---- cluster ha

    @Test
    void clusterHaShowsAndChanges() throws Exception {
        answer("GET /api/v1/clusters/icu/ha", 200, """
                {"cluster":"icu","admissionControl":false,"isolationResponse":"power-off"}""");
        Run show = cli("cluster", "ha", "icu");
        assertThat(show.code()).as(show.err()).isZero();
        assertThat(show.out()).contains("admissionControl:  false", "isolationResponse: power-off");

        answer("PATCH /api/v1/clusters/icu/ha", 200, """
                {"cluster":"icu","admissionControl":true,"isolationResponse":"leave-running"}""");
        Run set = cli("cluster", "ha", "icu", "--admission-control", "on", "--isolation-response", "leave-running",
                "--reason", "CHG-7");
        assertThat(set.code()).as(set.err()).isZero();
        assertThat(requests.get(1).method()).isEqualTo("PATCH");
        assertThat(requests.get(1).json().toString())
                .isEqualTo("{\"admissionControl\":true,\"isolationResponse\":\"leave-running\"}");
        assertThat(requests.get(1).reason()).isEqualTo("CHG-7");
        assertThat(set.out()).contains("isolationResponse: leave-running");

        cli("cluster", "ha", "icu", "--admission-control", "off");
        assertThat(requests.get(2).json().toString()).isEqualTo("{\"admissionControl\":false}");

        int before = requests.size();
        Run bad = cli("cluster", "ha", "icu", "--admission-control", "maybe");
        assertThat(bad.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(bad.err()).contains("--admission-control must be on or off, not 'maybe'");
        Run badResponse = cli("cluster", "ha", "icu", "--isolation-response", "reboot");
        assertThat(badResponse.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(requests).hasSize(before);
    }

    // ---- host fence

    static final String IPMI_FENCE = """
            {"host":"h1","kind":"ipmi","address":"10.0.9.21","username":"admin","secretSet":true,"target":null,
             "caPem":null}""";

    @Test
    void fencePasswordComesFromTheNamedEnvironmentVariable() throws Exception {
        env.put("BMC_PW", "s3cret-from-env");
        answer("PATCH /api/v1/hosts/h1/fence", 200, IPMI_FENCE);
        Run r = cli("host", "fence", "h1", "--kind", "ipmi", "--address", "10.0.9.21", "--user", "admin",
                "--password-env", "BMC_PW", "--reason", "new BMC");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(requests.get(0).method()).isEqualTo("PATCH");
        assertThat(requests.get(0).uri()).isEqualTo("/api/v1/hosts/h1/fence");
        assertThat(requests.get(0).json().toString()).isEqualTo(
                "{\"kind\":\"ipmi\",\"address\":\"10.0.9.21\",\"username\":\"admin\",\"password\":\"s3cret-from-env\"}");
        assertThat(requests.get(0).reason()).isEqualTo("new BMC");
        assertThat(r.out()).contains("kind:      ipmi", "secretSet: true").doesNotContain("s3cret");
    }

    @Test
    void missingPasswordVariableIsNamedAndNothingIsSent() {
        Run r = cli("host", "fence", "h1", "--kind", "ipmi", "--address", "10.0.9.21", "--user", "admin",
                "--password-env", "H1_BMC_PASSWORD");
        assertThat(r.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("environment variable H1_BMC_PASSWORD is not set");
        env.put("H1_BMC_PASSWORD", "");
        Run empty = cli("host", "fence", "h1", "--kind", "ipmi", "--address", "10.0.9.21", "--user", "admin",
                "--password-env", "H1_BMC_PASSWORD");
        assertThat(empty.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(empty.err()).contains("H1_BMC_PASSWORD is empty");
        assertThat(requests).isEmpty();
    }

    @Test
    void passwordIsNeverTakenFromTheCommandLine() {
        Run r = cli("host", "fence", "h1", "--kind", "ipmi", "--address", "10.0.9.21", "--user", "admin",
                "--password", "s3cret");
        assertThat(r.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("--password is not accepted", "--password-env VAR", "--password-file FILE")
                .doesNotContain("s3cret");
        Run none = cli("host", "fence", "h1", "--kind", "ipmi", "--address", "10.0.9.21", "--user", "admin");
        assertThat(none.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(none.err()).contains("--kind ipmi needs --password-env/--password-file/--password-stdin");
        assertThat(requests).isEmpty();
    }

    @Test
    void redfishReadsPasswordAndCaFromFiles() throws Exception {
        Path pw = dir.resolve("bmc.pw");
        Files.writeString(pw, "file-secret\n");
        Files.setPosixFilePermissions(pw, PosixFilePermissions.fromString("rw-------"));
        String pem = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
        Path ca = dir.resolve("ca.pem");
        Files.writeString(ca, pem);
        answer("PATCH /api/v1/hosts/h2/fence", 200, ApiClient.json().createObjectNode().put("host", "h2")
                .put("kind", "redfish").put("address", "https://10.0.9.22").put("username", "root")
                .put("secretSet", true).put("target", "2").put("caPem", pem).toString());
        Run r = cli("host", "fence", "h2", "--kind", "redfish", "--address", "https://10.0.9.22", "--user", "root",
                "--password-file", pw.toString(), "--system", "2", "--ca-file", ca.toString());
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode body = requests.get(0).json();
        assertThat(body.path("kind").asText()).isEqualTo("redfish");
        assertThat(body.path("password").asText()).isEqualTo("file-secret");
        assertThat(body.path("target").asText()).isEqualTo("2");
        assertThat(body.path("caPem").asText()).isEqualTo(pem);
        assertThat(r.out()).contains("caPem:     1 certificate (PEM; --json shows it)").doesNotContain("MIIBfake");
        assertThat(r.err()).isEmpty();

        Run stdin = cliWithStdin("stdin-secret\n", "host", "fence", "h2", "--kind", "redfish", "--address",
                "https://10.0.9.22", "--user", "root", "--password-stdin");
        assertThat(stdin.code()).as(stdin.err()).isZero();
        assertThat(requests.get(1).json().toString()).isEqualTo("{\"kind\":\"redfish\",\"address\":"
                + "\"https://10.0.9.22\",\"username\":\"root\",\"password\":\"stdin-secret\"}");

        Run missing = cli("host", "fence", "h2", "--kind", "redfish", "--address", "https://10.0.9.22", "--user",
                "root", "--password-file", dir.resolve("nope.pw").toString());
        assertThat(missing.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(missing.err()).contains("--password-file: ", "nope.pw does not exist");
        assertThat(requests).hasSize(2);
    }

    @Test
    void labAndNoneFenceAndOptionsThatDoNotFitTheKind() throws Exception {
        answer("PATCH /api/v1/hosts/lab-h1/fence", 200, """
                {"host":"lab-h1","kind":"lab","address":null,"username":null,"secretSet":false,"target":"cvl1h1",
                 "caPem":null}""");
        Run lab = cli("host", "fence", "lab-h1", "--kind", "lab", "--namespace", "cvl1h1");
        assertThat(lab.code()).as(lab.err()).isZero();
        assertThat(requests.get(0).json().toString()).isEqualTo("{\"kind\":\"lab\",\"target\":\"cvl1h1\"}");
        assertThat(lab.out()).contains("target:    cvl1h1", "address:   -");

        answer("PATCH /api/v1/hosts/h1/fence", 200, "{\"host\":\"h1\",\"kind\":\"none\"}");
        Run none = cli("host", "fence", "h1", "--kind", "none", "--reason", "BMC replaced");
        assertThat(none.code()).as(none.err()).isZero();
        assertThat(requests.get(1).json().toString()).isEqualTo("{\"kind\":\"none\"}");
        assertThat(requests.get(1).reason()).isEqualTo("BMC replaced");

        Run wrong = cli("host", "fence", "h1", "--kind", "lab", "--namespace", "x", "--address", "10.0.0.1");
        assertThat(wrong.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(wrong.err()).contains("--kind lab takes no --address");
        Run noKind = cli("host", "fence", "h1", "--address", "10.0.0.1");
        assertThat(noKind.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(noKind.err()).contains("--address without --kind");
        Run unknown = cli("host", "fence", "h1", "--kind", "ilo");
        assertThat(unknown.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(requests).hasSize(2);
    }

    // ---- ha status

    /** A status with two hosts, three VMs out of priority order and {@code decisions} decisions. */
    static String status(int decisions) {
        StringBuilder recent = new StringBuilder();
        for (int i = 0; i < decisions; i++) {
            recent.append(i == 0 ? "" : ",").append(String.format(
                    "{\"at\":\"2026-11-02T10:%02d:00Z\",\"decision\":\"restart\",\"host\":\"h2\",\"vm\":\"vm-%02d\","
                            + "\"detail\":\"decision %02d\"}", 59 - i, i, i));
        }
        return """
                {"hosts":[{"id":"a1","name":"h1","health":"dead","leaseCounter":41,"leaseAgeSeconds":93.25,
                           "fence":"ipmi"},
                          {"id":"a2","name":"h2","health":"up","leaseCounter":null,"leaseAgeSeconds":null,"fence":null}],
                 "vms":[{"id":"v1","name":"web-1","priority":10,"host":"h2","protected":true,"state":"running"},
                        {"id":"v2","name":"db-1","priority":90,"host":null,"protected":true,
                         "state":"waiting for a restart"},
                        {"id":"v3","name":"dns-1","priority":50,"host":"h2","protected":true,"state":"running"}],
                 "recent":[%s]}""".formatted(recent);
    }

    @Test
    void haStatusRendersThreeTables() {
        answer("GET /api/v1/ha", 200, status(25));
        Run r = cli("ha", "status");
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines.subList(0, 4)).containsExactly(
                "Hosts",
                "NAME  HEALTH  LEASE  LEASE AGE  FENCE",
                "h1    dead    41     93.3 s     ipmi",
                "h2    up      -      -          none");
        assertThat(lines.subList(5, 10)).containsExactly(
                "Protected VMs",
                "NAME   PRIORITY  HOST  STATE",
                "db-1   90        -     waiting for a restart",
                "dns-1  50        h2    running",
                "web-1  10        h2    running");
        assertThat(lines.get(11)).isEqualTo("Latest decisions");
        assertThat(lines.get(12)).startsWith("AT").contains("DECISION", "HOST", "VM", "DETAIL");
        assertThat(lines.get(13)).isEqualTo("2026-11-02T10:59:00Z  restart   h2    vm-00  decision 00");
        assertThat(r.out()).contains("decision 19").doesNotContain("decision 20")
                .contains("(5 older decisions not shown; --all shows them)");
        assertThat(lines).hasSize(13 + 20 + 1);

        Run all = cli("ha", "status", "--all");
        assertThat(all.out()).contains("decision 24").doesNotContain("not shown");
        assertThat(all.out().lines().count()).isEqualTo(13 + 25);

        Run bare = cli("ha");
        assertThat(bare.out()).isEqualTo(r.out());
    }

    @Test
    void haStatusWithNothingToShow() {
        answer("GET /api/v1/ha", 200, "{\"hosts\":[],\"vms\":[],\"recent\":[]}");
        Run r = cli("ha", "status");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).isEqualTo(String.join(System.lineSeparator(), "Hosts", "  (none)", "", "Protected VMs",
                "  (none; protect one with: carevisor vm ha VM --enable)", "", "Latest decisions", "  (none)", ""));
    }

    @Test
    void jsonPassesTheManagersAnswerThrough() throws Exception {
        String status = status(25);
        answer("GET /api/v1/ha", 200, status);
        Run r = cli("ha", "status", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(ApiClient.json().readTree(r.out())).isEqualTo(ApiClient.json().readTree(status));

        answer("PATCH /api/v1/vms/db-1/ha", 200, VM_HA);
        Run vm = cli("vm", "ha", "db-1", "--priority", "80", "--json");
        assertThat(ApiClient.json().readTree(vm.out())).isEqualTo(ApiClient.json().readTree(VM_HA));

        answer("GET /api/v1/hosts/h1/fence", 200, IPMI_FENCE);
        Run fence = cli("host", "fence", "h1", "--json");
        assertThat(ApiClient.json().readTree(fence.out())).isEqualTo(ApiClient.json().readTree(IPMI_FENCE));
    }
}
