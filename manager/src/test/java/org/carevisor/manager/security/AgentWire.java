package org.carevisor.manager.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Pem;
import org.carevisor.pki.Tls;
import org.carevisor.protocol.EnrollRequest;
import org.carevisor.protocol.EnrollResponse;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.ProtocolJson;
import org.carevisor.protocol.VmStatus;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;

/**
 * Talks to a manager started in the test JVM as agents do, over its real agent listener (TLS 1.3, the
 * manager's CA): join tokens through the API, enrollment requests and reports with chosen contents.
 */
final class AgentWire implements AutoCloseable {
    final Manager manager;
    final Http api;
    final String agentUrl;
    private final AtomicLong sequence = new AtomicLong();
    private final Instant started = Instant.now();

    /** A host that enrolled: the id the manager gave it and its TLS identity. */
    record Enrolled(String hostId, String name, String endpoint, String migrationAddress, Tls.Identity identity) {
        SSLContext tls() {
            return Tls.context(identity);
        }
    }

    /** A manager with its data in {@code dir/manager} (nested: its keys and audit anchor go beside it, in dir). */
    AgentWire(Path dir, String... extra) throws Exception {
        System.setProperty("carevisor.admin-password", Lab.ADMIN_PASSWORD);
        Path data = dir.resolve("manager");
        List<String> args = new java.util.ArrayList<>(List.of("--data-dir", data.toString(), "--port", "0",
                "--agent-port", "0"));
        args.addAll(List.of(extra));
        manager = Manager.start(ManagerConfig.parse(args.toArray(String[]::new), Map.of()));
        api = Http.forManager(data, manager.port()).login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
        agentUrl = "https://127.0.0.1:" + manager.agentPort();
    }

    @Override
    public void close() {
        manager.close();
    }

    JsonNode token(String body) {
        Http.Response r = api.post("/api/v1/hosts/join-tokens", body);
        assertThat(r.status()).as(r.text()).isEqualTo(201);
        return r.json();
    }

    JsonNode token() {
        return token("{\"ttlMinutes\":10}");
    }

    String pin() {
        return manager.pki().caFingerprint();
    }

    HttpResponse<String> enrollRaw(String token, String claimedId, String hostname, String endpoint,
                                   List<String> names, String migrationAddress, KeyPair keys) throws Exception {
        EnrollRequest req = new EnrollRequest(token, claimedId, hostname, endpoint, names,
                Pem.write(Keys.request(keys, "host:whatever-the-agent-likes")), migrationAddress);
        return post(Tls.pinned(pin()), "/agent/v1/enroll", ProtocolJson.mapper().writeValueAsString(req), "1");
    }

    Enrolled parse(HttpResponse<String> r, KeyPair keys, String name, String endpoint, String migration)
            throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        EnrollResponse e = ProtocolJson.mapper().readValue(r.body(), EnrollResponse.class);
        return new Enrolled(e.hostId(), name, endpoint, migration, new Tls.Identity(keys.getPrivate(),
                Pem.certificate(e.certificatePem()), Pem.certificate(e.caPem())));
    }

    /** Enrolls a new host at {@code endpoint} with a fresh token. */
    Enrolled enroll(String name, String endpoint, String migrationAddress) throws Exception {
        KeyPair keys = Keys.generate();
        return parse(enrollRaw(token().path("token").asText(), null, name, endpoint, List.of(), migrationAddress, keys),
                keys, name, endpoint, migrationAddress);
    }

    /** Enrolls a new host on loopback (as the single-machine lab does). */
    Enrolled enroll() throws Exception {
        String name = "h-" + java.util.UUID.randomUUID().toString().substring(0, 8);
        return enroll(name, "https://127.0.0.1:7701", null);
    }

    HttpResponse<String> post(SSLContext tls, String path, String body, String version) throws Exception {
        return post(tls, path, HttpRequest.BodyPublishers.ofString(body), version);
    }

    HttpResponse<String> post(SSLContext tls, String path, HttpRequest.BodyPublisher body, String version)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(agentUrl + path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json").POST(body);
        if (version != null) {
            b.header("Carevisor-Protocol", version);
        }
        return HttpClient.newBuilder().sslContext(tls).build().send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HostInventory inventory(Enrolled h) {
        return inventory(h.hostId(), h.name(), h.endpoint(), h.migrationAddress());
    }

    static HostInventory inventory(String hostId, String name, String endpoint, String migrationAddress) {
        return new HostInventory(hostId, name, endpoint, 2, "cpu", 4096, 4000, "/s", 10, 10, "7.2", "tcg", List.of(),
                false, "dev", 1, null, 0, List.of(), List.of(), migrationAddress, 49152, 49215);
    }

    String report(HostInventory inv, List<VmStatus> vms) throws Exception {
        return ProtocolJson.mapper().writeValueAsString(new HostReport(inv, vms, sequence.incrementAndGet(),
                Instant.now(), started));
    }

    HttpResponse<String> sendReport(Enrolled h, HostInventory inv, List<VmStatus> vms) throws Exception {
        return post(h.tls(), "/agent/v1/reports", report(inv, vms), "1");
    }

    HttpResponse<String> sendReport(Enrolled h) throws Exception {
        return sendReport(h, inventory(h), List.of());
    }

    /** The newest audit records about {@code target} (newest first). */
    JsonNode audit(String target) {
        return api.get("/api/v1/audit?order=desc&limit=50&target=" + target).json();
    }

    /**
     * The newest audit record about {@code target} with {@code action}; other records (the HA evaluation's about a
     * host that has not reported, say) may come in between at any time.
     */
    JsonNode newest(String target, String action) {
        for (JsonNode r : audit(target)) {
            if (r.path("action").asText().equals(action)) {
                return r;
            }
        }
        throw new AssertionError("no " + action + " record for " + target + ": " + audit(target));
    }

    /** The newest audit records with {@code action} (newest first). */
    JsonNode auditAction(String action) {
        return api.get("/api/v1/audit?order=desc&limit=50&action=" + action).json();
    }
}
