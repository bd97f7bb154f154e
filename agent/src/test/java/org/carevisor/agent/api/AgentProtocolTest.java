package org.carevisor.agent.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import org.carevisor.agent.Agent;
import org.carevisor.agent.AgentConfig;
import org.carevisor.agent.TestPki;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent speaks protocol v1 only and says so; its options are checked. */
class AgentProtocolTest {
    @TempDir
    static Path dir;
    static Agent agent;
    static TestPki pki;
    static HttpClient HTTP;

    @BeforeAll
    static void start() throws Exception {
        pki = new TestPki(dir.resolve("ca"));
        pki.provisionAgent(dir.resolve("state/tls"));
        HTTP = pki.client("manager");
        agent = Agent.start(AgentConfig.parse(new String[] {"--state-dir", dir.resolve("state").toString(),
                "--storage-dir", dir.resolve("storage").toString(), "--port", "0", "--accel", "tcg"}, Map.of()));
    }

    @AfterAll
    static void stop() {
        if (agent != null) {
            agent.closeAndStopWatchdog();
        }
    }

    private static HttpResponse<String> get(String path, String version) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(agent.endpoint() + path));
        if (version != null) {
            b.header("Carevisor-Protocol", version);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void answersVersionOne() throws Exception {
        HttpResponse<String> r = get("/v1/host", "1");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Carevisor-Protocol")).contains("1");
        assertThat(r.body()).contains("\"accelerator\":\"tcg\"", "no hardware acceleration");
    }

    @Test
    void refusesAnotherVersionWithAClearError() throws Exception {
        HttpResponse<String> wrong = get("/v1/host", "2");
        assertThat(wrong.statusCode()).isEqualTo(400);
        assertThat(wrong.body()).contains("protocol-version-mismatch", "speaks protocol version 1", "'2'");
        HttpResponse<String> missing = get("/v1/host", null);
        assertThat(missing.statusCode()).isEqualTo(400);
        assertThat(missing.body()).contains("header Carevisor-Protocol missing");
        HttpResponse<String> v2 = get("/v2/host", "2");
        assertThat(v2.statusCode()).isEqualTo(404);
        assertThat(v2.body()).contains("unsupported-protocol");
    }

    @Test
    void refusesDiskPathsOutsideStorageAndUnknownVms() throws Exception {
        HttpRequest post = HttpRequest.newBuilder(URI.create(agent.endpoint() + "/v1/disks"))
                .header("Carevisor-Protocol", "1").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(
                        "{\"path\":\"../escape.qcow2\",\"format\":\"qcow2\",\"sizeBytes\":1048576,\"mode\":\"BLANK\"}"))
                .build();
        HttpResponse<String> r = HTTP.send(post, HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("invalid-path", "storage root");
        assertThat(dir.resolve("escape.qcow2")).doesNotExist();
        assertThat(get("/v1/vms/00000000-0000-4000-8000-000000000000", "1").statusCode()).isEqualTo(404);
        assertThat(get("/v1/vms/not-a-uuid", "1").statusCode()).isEqualTo(400);
    }

    @Test
    void oversizedBodiesAndSpecsAreRefusedBeforeParsing() throws Exception {
        String huge = "{\"path\":\"" + "a".repeat(Router.MAX_BODY_BYTES) + "\"}";
        HttpResponse<String> big = HTTP.send(HttpRequest.newBuilder(URI.create(agent.endpoint() + "/v1/disks"))
                .header("Carevisor-Protocol", "1").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(huge)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(big.statusCode()).isEqualTo(413);
        assertThat(big.body()).contains("body-too-large", "at most " + Router.MAX_BODY_BYTES);
        // without a Content-Length (streamed in chunks) the bound holds too
        HttpResponse<String> chunked = HTTP.send(HttpRequest.newBuilder(URI.create(agent.endpoint() + "/v1/disks"))
                .header("Carevisor-Protocol", "1").POST(HttpRequest.BodyPublishers.ofInputStream(
                        () -> new java.io.ByteArrayInputStream(huge.getBytes()))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(chunked.statusCode()).isEqualTo(413);
        String vm = "00000000-0000-4000-8000-0000000000aa";
        HttpResponse<String> option = HTTP.send(HttpRequest.newBuilder(URI.create(agent.endpoint() + "/v1/vms/" + vm
                        + "/start")).header("Carevisor-Protocol", "1").POST(HttpRequest.BodyPublishers.ofString(
                        "{\"id\":\"" + vm + "\",\"name\":\"x\",\"cpus\":1,\"memoryMiB\":64,"
                                + "\"machine\":\"pc,accel=kvm\",\"cpuModel\":\"qemu64\",\"specVersion\":1}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(option.statusCode()).isEqualTo(400);
        assertThat(option.body()).contains("invalid-spec", "machine type");
        HttpResponse<String> paths = HTTP.send(HttpRequest.newBuilder(URI.create(agent.endpoint()
                        + "/v1/files/checksums")).header("Carevisor-Protocol", "1").POST(HttpRequest.BodyPublishers
                        .ofString("{\"paths\":[" + "\"images/x\",".repeat(100) + "\"images/x\"]}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(paths.statusCode()).isEqualTo(400);
        assertThat(paths.body()).contains("too-many-paths");
    }

    @Test
    void onlyTheManagersCertificateIsAccepted() throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create(agent.endpoint() + "/v1/host"))
                .header("Carevisor-Protocol", "1").build();
        HttpResponse<String> otherHost = pki.client("host:someone-else").send(req, HttpResponse.BodyHandlers.ofString());
        assertThat(otherHost.statusCode()).isEqualTo(403);
        assertThat(otherHost.body()).contains("only the manager may call this agent");
        assertThatThrownBy(() -> HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString()))
                .as("no client certificate, and the agent's CA is not trusted by a default client")
                .isInstanceOf(java.io.IOException.class);
        TestPki stranger = new TestPki(dir.resolve("other-ca"));
        assertThatThrownBy(() -> stranger.client("manager").send(req, HttpResponse.BodyHandlers.ofString()))
                .as("a manager certificate from another CA").isInstanceOf(java.io.IOException.class);
        assertThat(agent.endpoint()).startsWith("https://");
    }

    @Test
    void withoutCertificateOrTokenTheAgentSaysHowToEnroll() {
        assertThatThrownBy(() -> Agent.start(AgentConfig.parse(new String[] {"--state-dir",
                dir.resolve("fresh").toString(), "--storage-dir", dir.resolve("storage").toString(), "--port", "0",
                "--accel", "tcg"}, Map.of()))).hasMessageContaining("--join-token");
    }

    @Test
    void optionsAreChecked() {
        assertThatThrownBy(() -> AgentConfig.parse(new String[] {"--colour", "red"}, Map.of()))
                .hasMessageContaining("unknown option --colour");
        assertThatThrownBy(() -> AgentConfig.parse(new String[] {"--accel", "xen"}, Map.of()))
                .hasMessageContaining("auto, kvm or tcg");
        assertThat(AgentConfig.parse(new String[0], Map.of("CAREVISOR_AGENT_PORT", "9999")).listenPort())
                .isEqualTo(9999);
        assertThatThrownBy(() -> AgentConfig.parse(new String[] {"--migration-ports", "50000-40000"}, Map.of()))
                .hasMessageContaining("--migration-ports must be a port range");
        assertThatThrownBy(() -> AgentConfig.parse(new String[] {"--ha-watchdog", "maybe"}, Map.of()))
                .hasMessageContaining("--ha-watchdog must be true or false");
        assertThat(AgentConfig.parse(new String[0], Map.of()).haWatchdog()).as("on by default").isTrue();
        assertThat(AgentConfig.parse(new String[0], Map.of("CAREVISOR_AGENT_HA_WATCHDOG", "false")).haWatchdog())
                .isFalse();
        assertThat(AgentConfig.parse(new String[0], Map.of()).haKeeperTime()).as("an hour of keeper leases")
                .isEqualTo(java.time.Duration.ofMinutes(60));
        assertThat(AgentConfig.parse(new String[] {"--ha-keeper-minutes", "240"}, Map.of()).haKeeperTime())
                .isEqualTo(java.time.Duration.ofHours(4));
        for (String bad : new String[] {"0", "1441", "-5", "soon"}) {
            assertThatThrownBy(() -> AgentConfig.parse(new String[] {"--ha-keeper-minutes", bad}, Map.of()))
                    .hasMessageContaining("--ha-keeper-minutes must be a number of minutes from 1 to 1440");
        }
        AgentConfig c = AgentConfig.parse(new String[] {"--listen", "10.0.0.5", "--migration-ports", "50000-50010"},
                Map.of());
        assertThat(c.migrationAddress()).isEqualTo("10.0.0.5");
        assertThat(c.migrationPortFrom()).isEqualTo(50000);
        assertThat(c.migrationPortTo()).isEqualTo(50010);
    }

    @Test
    void reportsItsStorageDomainCpuModelsAndMigrationAddress() throws Exception {
        String host = get("/v1/host", "1").body();
        assertThat(host).contains("\"cpuModels\":[").contains("\"qemu64\"").doesNotContain("\"host\"")
                .contains("\"migrationAddress\":\"127.0.0.1\"");
        String domain = java.nio.file.Files.readString(dir.resolve("storage/.carevisor-domain")).strip();
        assertThat(host).contains("\"storageDomainId\":\"" + domain + "\"");
    }

    @Test
    void migrationEndpointsRefuseWhatTheyCannotDo() throws Exception {
        String vm = "11111111-2222-4333-8444-555555555555";
        HttpRequest activate = HttpRequest.newBuilder(URI.create(agent.endpoint() + "/v1/vms/" + vm
                        + "/incoming/activate")).header("Carevisor-Protocol", "1")
                .POST(HttpRequest.BodyPublishers.ofString("{\"run\":true,\"waitMs\":10}")).build();
        HttpResponse<String> r = HTTP.send(activate, HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(404);
        HttpRequest migrate = HttpRequest.newBuilder(URI.create(agent.endpoint() + "/v1/vms/" + vm + "/migration"))
                .header("Carevisor-Protocol", "1").POST(HttpRequest.BodyPublishers.ofString(
                        "{\"uri\":\"tcp:127.0.0.1:1\",\"maxBandwidthBytes\":0,\"downtimeLimitMs\":300,"
                                + "\"autoConverge\":true}")).build();
        assertThat(HTTP.send(migrate, HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(404);
        // a destination accepts a stream only from a named source host: a request without one is refused before
        // anything starts
        String spec = "{\"spec\":{\"id\":\"" + vm + "\",\"name\":\"m\",\"cpus\":1,\"memoryMiB\":64,"
                + "\"machine\":\"pc\",\"cpuModel\":\"qemu64\",\"disks\":[],\"nics\":[],\"specVersion\":1}";
        for (String body : new String[] {spec + "}", spec + ",\"sourceHostId\":\"../x,O=Other\"}"}) {
            HttpResponse<String> in = HTTP.send(HttpRequest.newBuilder(URI.create(agent.endpoint() + "/v1/vms/" + vm
                    + "/incoming")).header("Carevisor-Protocol", "1").header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(in.statusCode()).as(in.body()).isEqualTo(400);
            assertThat(in.body()).containsAnyOf("migration-peer-missing", "migration-peer-invalid");
        }
        assertThat(get("/v1/vms/" + vm, "1").statusCode()).as("no VM was made").isEqualTo(404);
    }
}
