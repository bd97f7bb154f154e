package org.carevisor.manager.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
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
import java.util.UUID;
import javax.net.ssl.SSLContext;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.manager.db.Sql;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Fingerprints;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Pem;
import org.carevisor.pki.Tls;
import org.carevisor.protocol.EnrollRequest;
import org.carevisor.protocol.EnrollResponse;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.ProtocolJson;
import org.carevisor.testkit.Http;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Enrollment and mutual TLS between agents and the manager: one-time join tokens, CA pinning, client
 * certificates on every report, and revocation when a host is removed.
 */
class EnrollmentTest {
    @TempDir
    static Path dir;
    static Manager manager;
    static Http api;
    static String agentUrl;

    @BeforeAll
    static void start() throws Exception {
        System.setProperty("carevisor.admin-password", org.carevisor.testkit.Lab.ADMIN_PASSWORD);
        manager = Manager.start(ManagerConfig.parse(new String[] {"--data-dir", dir.toString(), "--port", "0",
            "--agent-port", "0"}, Map.of()));
        api = new Http("http://127.0.0.1:" + manager.port()).login(org.carevisor.testkit.Lab.ADMIN,
                org.carevisor.testkit.Lab.ADMIN_PASSWORD);
        agentUrl = "https://127.0.0.1:" + manager.agentPort();
    }

    @AfterAll
    static void stop() {
        if (manager != null) {
            manager.close();
        }
    }

    private static JsonNode newToken() {
        Http.Response r = api.post("/api/v1/hosts/join-tokens", "{\"ttlMinutes\":10}");
        assertThat(r.status()).isEqualTo(201);
        return r.json();
    }

    /** A host that enrolled: its id and its TLS identity. */
    record Enrolled(String hostId, Tls.Identity identity) {
    }

    private static HttpResponse<String> enrollRaw(String token, String hostId, KeyPair keys, String pin) throws Exception {
        EnrollRequest req = new EnrollRequest(token, hostId, "lab-" + hostId.substring(0, 4), "https://127.0.0.1:7701",
                List.of("127.0.0.1"), Pem.write(Keys.request(keys, "host:" + hostId)));
        return post(Tls.pinned(pin), "/agent/v1/enroll", ProtocolJson.mapper().writeValueAsString(req), "1");
    }

    private static Enrolled enroll() throws Exception {
        JsonNode t = newToken();
        String hostId = UUID.randomUUID().toString();
        KeyPair keys = Keys.generate();
        HttpResponse<String> r = enrollRaw(t.path("token").asText(), hostId, keys, t.path("caFingerprint").asText());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        EnrollResponse e = ProtocolJson.mapper().readValue(r.body(), EnrollResponse.class);
        return new Enrolled(hostId, new Tls.Identity(keys.getPrivate(), Pem.certificate(e.certificatePem()),
                Pem.certificate(e.caPem())));
    }

    private static HttpResponse<String> post(SSLContext tls, String path, String body, String version) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(agentUrl + path)).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (version != null) {
            b.header("Carevisor-Protocol", version);
        }
        return HttpClient.newBuilder().sslContext(tls).build().send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A client that presents a chain of a foreign CA but trusts the manager (to get to the point). */
    private static SSLContext attacker(KeyPair keys, java.security.cert.X509Certificate cert,
                                       java.security.cert.X509Certificate foreignCa) throws Exception {
        java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("k", keys.getPrivate(), new char[0], new java.security.cert.X509Certificate[] {cert, foreignCa});
        javax.net.ssl.KeyManagerFactory kmf = javax.net.ssl.KeyManagerFactory.getInstance("PKIX");
        kmf.init(ks, new char[0]);
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        ctx.init(kmf.getKeyManagers(), Tls.trustOnly(manager.pki().ca().certificate()), null);
        return ctx;
    }

    private static String report(String hostId) throws Exception {
        HostInventory inv = new HostInventory(hostId, "lab", "https://127.0.0.1:7701", 2, "cpu", 4096, 4000, "/s", 10, 10,
                "7.2", "tcg", List.of(), false, "dev", 1, null, 0, List.of(), List.of(), null);
        return ProtocolJson.mapper().writeValueAsString(new HostReport(inv, List.of(), 1, Instant.now(), Instant.now()));
    }

    @Test
    void enrolledHostReportsWithItsCertificate() throws Exception {
        Enrolled h = enroll();
        assertThat(h.identity().commonName()).isEqualTo("host:" + h.hostId());
        h.identity().certificate().verify(manager.pki().ca().certificate().getPublicKey());
        HttpResponse<String> r = post(Tls.context(h.identity()), "/agent/v1/reports", report(h.hostId()), "1");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.body()).contains("\"haVms\":[]").contains("\"isolationResponse\":\"power-off\"");
        assertThat(api.get("/api/v1/hosts/" + h.hostId()).json().path("status").asText()).isEqualTo("connected");
        assertThat(api.get("/api/v1/audit?target=" + h.hostId()).json().findValuesAsText("action")).contains("host.enroll");
    }

    @Test
    void joinTokensAreOneTimeAndExpire() throws Exception {
        JsonNode t = newToken();
        String pin = t.path("caFingerprint").asText();
        assertThat(enrollRaw(t.path("token").asText(), UUID.randomUUID().toString(), Keys.generate(), pin).statusCode())
                .isEqualTo(200);
        HttpResponse<String> reused = enrollRaw(t.path("token").asText(), UUID.randomUUID().toString(), Keys.generate(),
                pin);
        assertThat(reused.statusCode()).isEqualTo(401);
        assertThat(reused.body()).contains("join-token-used", "already used");

        JsonNode old = newToken();
        manager.database().jdbi().useHandle(h -> h.createUpdate("UPDATE join_tokens SET expires_at = :t WHERE id = :id")
                .bind("t", Sql.ts(Instant.now().minusSeconds(60))).bind("id", old.path("id").asText()).execute());
        HttpResponse<String> expired = enrollRaw(old.path("token").asText(), UUID.randomUUID().toString(),
                Keys.generate(), pin);
        assertThat(expired.statusCode()).isEqualTo(401);
        assertThat(expired.body()).contains("join-token-expired", "expired at");

        HttpResponse<String> unknown = enrollRaw("CVJ1.not-a-real-token", UUID.randomUUID().toString(), Keys.generate(),
                pin);
        assertThat(unknown.statusCode()).isEqualTo(401);
        assertThat(unknown.body()).contains("not known");
        assertThat(api.get("/api/v1/audit?limit=20").json().findValuesAsText("outcome")).contains("refused");
        assertThat(api.post("/api/v1/hosts/join-tokens", "{\"ttlMinutes\":0}").status()).isEqualTo(400);
        assertThat(api.get("/api/v1/hosts/join-tokens").text()).doesNotContain("CVJ1.");
    }

    @Test
    void anAgentPinningAnotherCaRefusesTheManager() {
        String wrongPin = "sha256:" + "00".repeat(32);
        assertThatThrownBy(() -> enrollRaw(newToken().path("token").asText(), UUID.randomUUID().toString(),
                Keys.generate(), wrongPin)).isInstanceOf(IOException.class);
    }

    @Test
    void reportsWithoutAValidCertificateAreRefused() throws Exception {
        Enrolled h = enroll();
        String pin = manager.pki().caFingerprint();
        HttpResponse<String> none = post(Tls.pinned(pin), "/agent/v1/reports", report(h.hostId()), "1");
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.body()).contains("client-certificate-required");

        CertificateAuthority foreign = CertificateAuthority.loadOrCreate(dir.resolve("foreign-ca"), "Foreign CA");
        KeyPair keys = Keys.generate();
        SSLContext forged = attacker(keys, foreign.issue(keys.getPublic(), "host:" + h.hostId(), List.of("127.0.0.1"),
                Duration.ofDays(1)), foreign.certificate());
        // With client authentication "wanted" (enrollment needs none), the JDK ignores an untrusted client
        // certificate instead of failing the handshake; the report is then refused like one without any.
        HttpResponse<String> foreignCert = post(forged, "/agent/v1/reports", report(h.hostId()), "1");
        assertThat(foreignCert.statusCode()).as("a certificate of another CA").isEqualTo(401);
        assertThat(foreignCert.body()).contains("client-certificate-required");

        Enrolled other = enroll();
        HttpResponse<String> mismatch = post(Tls.context(other.identity()), "/agent/v1/reports", report(h.hostId()), "1");
        assertThat(mismatch.statusCode()).isEqualTo(403);
        assertThat(mismatch.body()).contains("host-mismatch");

        HttpResponse<String> version = post(Tls.context(h.identity()), "/agent/v1/reports", report(h.hostId()), "2");
        assertThat(version.statusCode()).isEqualTo(400);
        assertThat(version.body()).contains("protocol-version-mismatch");
    }

    @Test
    void removingAHostRevokesItsCertificate() throws Exception {
        Enrolled h = enroll();
        assertThat(post(Tls.context(h.identity()), "/agent/v1/reports", report(h.hostId()), "1").statusCode())
                .isEqualTo(200);
        assertThat(api.delete("/api/v1/hosts/" + h.hostId()).status()).isEqualTo(204);
        HttpResponse<String> after = post(Tls.context(h.identity()), "/agent/v1/reports", report(h.hostId()), "1");
        assertThat(after.statusCode()).isEqualTo(403);
        assertThat(after.body()).contains("certificate-revoked");
        assertThat(api.get("/api/v1/hosts/" + h.hostId()).status()).isEqualTo(404);
        int revoked = manager.database().jdbi().withHandle(hd -> hd.createQuery(
                "SELECT COUNT(*) FROM revoked_certificates WHERE host_id = :h").bind("h", h.hostId())
                .mapTo(Integer.class).one());
        assertThat(revoked).isEqualTo(1);
        assertThat(api.get("/api/v1/audit?target=" + h.hostId()).json().findValuesAsText("action")).contains("host.remove");
        assertThat(Fingerprints.of(manager.pki().ca().certificate())).isEqualTo(manager.pki().caFingerprint());
    }
}
