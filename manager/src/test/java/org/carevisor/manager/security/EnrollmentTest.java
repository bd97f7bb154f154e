package org.carevisor.manager.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.UUID;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.carevisor.manager.db.Sql;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Fingerprints;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Pem;
import org.carevisor.pki.Tls;
import org.carevisor.protocol.EnrollRequest;
import org.carevisor.protocol.ProtocolJson;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Enrollment and mutual TLS between agents and the manager: one-time join tokens, CA pinning, client
 * certificates on every report, revocation when a host is removed; the manager assigning host ids and
 * certificate names, and re-enrollment bound to a host by a token issued for it.
 */
class EnrollmentTest {
    @TempDir
    static Path dir;
    static AgentWire wire;

    @BeforeAll
    static void start() throws Exception {
        wire = new AgentWire(dir, "--agent-names", "carevisor-manager.example.org,127.0.9.9");
    }

    @AfterAll
    static void stop() {
        if (wire != null) {
            wire.close();
        }
    }

    /** A client that presents a chain of a foreign CA but trusts the manager (to get to the point). */
    private static SSLContext attacker(KeyPair keys, X509Certificate cert, X509Certificate foreignCa) throws Exception {
        java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("k", keys.getPrivate(), new char[0], new X509Certificate[] {cert, foreignCa});
        javax.net.ssl.KeyManagerFactory kmf = javax.net.ssl.KeyManagerFactory.getInstance("PKIX");
        kmf.init(ks, new char[0]);
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        ctx.init(kmf.getKeyManagers(), Tls.trustOnly(wire.manager.pki().ca().certificate()), null);
        return ctx;
    }

    private static HttpResponse<String> enrollRaw(String token, String claimedId) throws Exception {
        return wire.enrollRaw(token, claimedId, "h-" + UUID.randomUUID().toString().substring(0, 8),
                "https://127.0.0.1:7701", List.of(), null, Keys.generate());
    }

    private static String tokenText() {
        return wire.token().path("token").asText();
    }

    private static boolean tokenUnused(String tokenId) {
        for (JsonNode t : wire.api.get("/api/v1/hosts/join-tokens").json()) {
            if (t.path("id").asText().equals(tokenId)) {
                return t.path("usedAt").isNull() || t.path("usedAt").isMissingNode();
            }
        }
        throw new AssertionError("no token " + tokenId);
    }

    private static List<String> sans(X509Certificate cert) throws Exception {
        List<String> out = new ArrayList<>();
        Collection<List<?>> names = cert.getSubjectAlternativeNames();
        if (names != null) {
            names.forEach(n -> out.add(String.valueOf(n.get(1))));
        }
        return out;
    }

    @Test
    void enrolledHostReportsWithItsCertificate() throws Exception {
        AgentWire.Enrolled h = wire.enroll();
        assertThat(h.identity().commonName()).isEqualTo("host:" + h.hostId());
        h.identity().certificate().verify(wire.manager.pki().ca().certificate().getPublicKey());
        HttpResponse<String> r = wire.sendReport(h);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.body()).contains("\"haVms\":[]").contains("\"isolationResponse\":\"power-off\"");
        assertThat(wire.api.get("/api/v1/hosts/" + h.hostId()).json().path("status").asText()).isEqualTo("connected");
        assertThat(wire.audit(h.hostId()).findValuesAsText("action")).contains("host.enroll");
    }

    @Test
    void theManagerAssignsHostIdsAndCertificateNames() throws Exception {
        String claimed = UUID.randomUUID().toString();
        KeyPair keys = Keys.generate();
        HttpResponse<String> r = wire.enrollRaw(tokenText(), claimed, "named-host", "https://127.0.9.21:7701",
                List.of("127.0.9.21"), null, keys);
        AgentWire.Enrolled h = wire.parse(r, keys, "named-host", "https://127.0.9.21:7701", null);
        assertThat(h.hostId()).as("an id the manager does not know is not taken over").isNotEqualTo(claimed);
        assertThat(UUID.fromString(h.hostId()).toString()).isEqualTo(h.hostId());
        assertThat(h.identity().commonName()).isEqualTo("host:" + h.hostId());
        assertThat(sans(h.identity().certificate())).as("the endpoint's address only").containsExactly("127.0.9.21");
        JsonNode enrolled = wire.newest(h.hostId(), "host.enroll");
        assertThat(enrolled.path("reason").asText()).contains("id assigned by the manager", claimed);
        assertThat(enrolled.path("newValue").toString()).contains("127.0.9.21", "certificateNames");

        // names beyond the endpoint's address never reach a certificate
        HttpResponse<String> more = wire.enrollRaw(tokenText(), null, "greedy", "https://127.0.9.22:7701",
                List.of("127.0.9.22", "manager", "127.0.9.21"), null, Keys.generate());
        assertThat(more.statusCode()).isEqualTo(400);
        assertThat(more.body()).contains("validation-failed", "names", "'manager' is not the endpoint's address");
        for (String endpoint : List.of("http://127.0.9.23:7701", "https://user@127.0.9.23:7701",
                "https://127.0.9.23:7701/v1", "https://127.0.9.23", "https://127.0.9.23:99999", "https://0127.0.9.23:7701",
                "https://127.0.9.23:7701?x", "https://a..b:7701", "https://0.0.0.0:7701")) {
            HttpResponse<String> bad = wire.enrollRaw(tokenText(), null, "bad-endpoint", endpoint, List.of(), null,
                    Keys.generate());
            assertThat(bad.statusCode()).as(endpoint).isEqualTo(400);
            assertThat(bad.body()).as(endpoint).contains("endpoint");
        }
        HttpResponse<String> badMigration = wire.enrollRaw(tokenText(), null, "bad-migration", "https://127.0.9.24:7701",
                List.of(), "exec:touch /tmp/x", Keys.generate());
        assertThat(badMigration.statusCode()).isEqualTo(400);
        assertThat(badMigration.body()).contains("migrationAddress");
    }

    @Test
    void aHostMayNotBeKnownByTheAddressOfTheManagerOrOfAnotherHost() throws Exception {
        AgentWire.Enrolled first = wire.enroll("first-of-two", "https://127.0.10.1:7701", "127.0.11.1");
        for (String[] c : new String[][] {{"https://127.0.10.1:7801", null}, {"https://127.0.11.1:7701", null},
                {"https://127.0.10.2:7701", "127.0.10.1"}, {"https://127.0.10.2:7701", "127.0.11.1"}}) {
            HttpResponse<String> r = wire.enrollRaw(tokenText(), null, "second-of-two", c[0], List.of(), c[1],
                    Keys.generate());
            assertThat(r.statusCode()).as(String.join(" ", java.util.Arrays.toString(c))).isEqualTo(409);
            assertThat(r.body()).contains("address-in-use", "first-of-two");
        }
        for (String managerName : List.of("carevisor-manager.example.org", "CAREVISOR-manager.example.org",
                "127.0.9.9")) { // --agent-names: in the manager's certificate
            HttpResponse<String> asManager = wire.enrollRaw(tokenText(), null, "poser",
                    "https://" + managerName + ":7701", List.of(), null, Keys.generate());
            assertThat(asManager.statusCode()).as(managerName).isEqualTo(409);
            assertThat(asManager.body()).contains("address-in-use", "an address of the manager");
            HttpResponse<String> migrateToManager = wire.enrollRaw(tokenText(), null, "poser",
                    "https://127.0.10.9:7701", List.of(), managerName, Keys.generate());
            assertThat(migrateToManager.statusCode()).as(managerName).isEqualTo(409);
        }
        HttpResponse<String> sameName = wire.enrollRaw(tokenText(), null, "first-of-two", "https://127.0.10.3:7701",
                List.of(), null, Keys.generate());
        assertThat(sameName.statusCode()).isEqualTo(409);
        assertThat(sameName.body()).contains("host-name-in-use");
        assertThat(wire.sendReport(first).statusCode()).as("the first host is untouched").isEqualTo(200);
    }

    @Test
    void aJoinTokenWithoutAHostCannotTakeOverAnExistingHost() throws Exception {
        AgentWire.Enrolled victim = wire.enroll();
        assertThat(wire.sendReport(victim).statusCode()).isEqualTo(200);
        JsonNode t = wire.token();
        HttpResponse<String> takeover = enrollRaw(t.path("token").asText(), victim.hostId());
        assertThat(takeover.statusCode()).isEqualTo(403);
        assertThat(takeover.body()).contains("host-token-required", "only adds a new host",
                "host join-token create --host " + victim.name());
        assertThat(tokenUnused(t.path("id").asText())).as("a refused enrollment leaves the token unused").isTrue();
        assertThat(wire.sendReport(victim).statusCode()).as("the real host's certificate still works").isEqualTo(200);
        int revoked = wire.manager.database().jdbi().withHandle(h -> h.createQuery(
                "SELECT COUNT(*) FROM revoked_certificates WHERE host_id = :h").bind("h", victim.hostId())
                .mapTo(Integer.class).one());
        assertThat(revoked).isZero();
        JsonNode refused = wire.newest(victim.hostId(), "host.enroll");
        assertThat(refused.path("outcome").asText()).isEqualTo("refused");
        assertThat(refused.path("clientAddress").asText()).isEqualTo("127.0.0.1");
    }

    @Test
    void aTokenForAHostReEnrollsThatHostOnlyAndRevokesItsOldCertificate() throws Exception {
        AgentWire.Enrolled host = wire.enroll();
        AgentWire.Enrolled other = wire.enroll();
        JsonNode t = wire.token("{\"ttlMinutes\":10,\"host\":\"" + host.name() + "\"}");
        assertThat(t.path("host").asText()).isEqualTo(host.hostId());
        assertThat(wire.newest(host.hostId(), "host.join-token").path("outcome").asText()).isEqualTo("success");

        HttpResponse<String> asOther = enrollRaw(t.path("token").asText(), other.hostId());
        assertThat(asOther.statusCode()).isEqualTo(403);
        assertThat(asOther.body()).contains("join-token-host-mismatch", host.hostId());
        assertThat(tokenUnused(t.path("id").asText())).isTrue();
        assertThat(wire.sendReport(host).statusCode()).isEqualTo(200);

        // a reinstalled host: no id of its own any more; the token says which host it is
        KeyPair keys = Keys.generate();
        AgentWire.Enrolled again = wire.parse(wire.enrollRaw(t.path("token").asText(), null, host.name(),
                host.endpoint(), List.of(), null, keys), keys, host.name(), host.endpoint(), null);
        assertThat(again.hostId()).isEqualTo(host.hostId());
        assertThat(again.identity().certificate().getSerialNumber())
                .isNotEqualTo(host.identity().certificate().getSerialNumber());
        HttpResponse<String> old = wire.sendReport(host);
        assertThat(old.statusCode()).isEqualTo(403);
        assertThat(old.body()).contains("certificate-revoked");
        assertThat(wire.sendReport(again).statusCode()).isEqualTo(200);
        assertThat(wire.sendReport(other).statusCode()).as("the other host is untouched").isEqualTo(200);
        JsonNode enrolled = wire.auditAction("host.enroll").get(0);
        assertThat(enrolled.path("targetId").asText()).isEqualTo(host.hostId());
        assertThat(enrolled.path("reason").asText()).contains("re-enrollment", "revoked");

        HttpResponse<String> reused = enrollRaw(t.path("token").asText(), host.hostId());
        assertThat(reused.statusCode()).isEqualTo(401);
        assertThat(reused.body()).contains("join-token-used");

        assertThat(wire.api.post("/api/v1/hosts/join-tokens", "{\"host\":\"no-such-host\"}").status()).isEqualTo(404);
        Http400 both = new Http400(wire.api.post("/api/v1/hosts/join-tokens", "{\"host\":\"" + host.name()
                + "\",\"cluster\":\"default\"}"));
        assertThat(both.text).contains("cluster", "keeps the host in its cluster");

        AgentWire.Enrolled removed = wire.enroll();
        JsonNode forRemoved = wire.token("{\"host\":\"" + removed.hostId() + "\"}");
        assertThat(wire.api.delete("/api/v1/hosts/" + removed.hostId()).status()).isEqualTo(204);
        HttpResponse<String> gone = enrollRaw(forRemoved.path("token").asText(), null);
        assertThat(gone.statusCode()).isEqualTo(409);
        assertThat(gone.body()).contains("join-token-host-gone");
    }

    /** A 400 answer's text (asserting the status). */
    private record Http400(String text) {
        Http400(org.carevisor.testkit.Http.Response r) {
            this(r.text());
            assertThat(r.status()).as(r.text()).isEqualTo(400);
        }
    }

    @Test
    void theTokenIsCheckedBeforeAnythingElseOfTheRequest() throws Exception {
        String junk = ProtocolJson.mapper().writeValueAsString(new EnrollRequest("CVJ1.not-a-real-token", "x y",
                "!!", "exec:rm -rf /", List.of("a".repeat(300)), "-----BEGIN GARBAGE-----", "file:/etc/passwd"));
        HttpResponse<String> r = wire.post(Tls.pinned(wire.pin()), "/agent/v1/enroll", junk, "1");
        assertThat(r.statusCode()).isEqualTo(401);
        assertThat(r.body()).contains("join-token-invalid", "not known").doesNotContain("hostname", "csrPem");

        // a request for a key the agent would not make (RSA) is refused, the token stays unused
        JsonNode t = wire.token();
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        KeyPair rsa = g.generateKeyPair();
        String csr = Pem.write(new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=host:x"), rsa.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withRSA").build(rsa.getPrivate())));
        String body = ProtocolJson.mapper().writeValueAsString(new EnrollRequest(t.path("token").asText(), null,
                "rsa-host", "https://127.0.0.1:7701", List.of(), csr, null));
        HttpResponse<String> rsaAnswer = wire.post(Tls.pinned(wire.pin()), "/agent/v1/enroll", body, "1");
        assertThat(rsaAnswer.statusCode()).isEqualTo(400);
        assertThat(rsaAnswer.body()).contains("csrPem", "EC P-256");
        assertThat(tokenUnused(t.path("id").asText())).isTrue();
    }

    @Test
    void joinTokensAreOneTimeAndExpire() throws Exception {
        JsonNode t = wire.token();
        assertThat(enrollRaw(t.path("token").asText(), null).statusCode()).isEqualTo(200);
        HttpResponse<String> reused = enrollRaw(t.path("token").asText(), null);
        assertThat(reused.statusCode()).isEqualTo(401);
        assertThat(reused.body()).contains("join-token-used", "already used");

        JsonNode old = wire.token();
        wire.manager.database().jdbi().useHandle(h -> h.createUpdate(
                "UPDATE join_tokens SET expires_at = :t WHERE id = :id")
                .bind("t", Sql.ts(Instant.now().minusSeconds(60))).bind("id", old.path("id").asText()).execute());
        HttpResponse<String> expired = enrollRaw(old.path("token").asText(), null);
        assertThat(expired.statusCode()).isEqualTo(401);
        assertThat(expired.body()).contains("join-token-expired", "expired at");

        HttpResponse<String> unknown = enrollRaw("CVJ1.not-a-real-token", null);
        assertThat(unknown.statusCode()).isEqualTo(401);
        assertThat(unknown.body()).contains("not known");
        assertThat(wire.auditAction("host.enroll").findValuesAsText("outcome")).contains("refused");
        assertThat(wire.api.post("/api/v1/hosts/join-tokens", "{\"ttlMinutes\":0}").status()).isEqualTo(400);
        assertThat(wire.api.get("/api/v1/hosts/join-tokens").text()).doesNotContain("CVJ1.");
    }

    @Test
    void anAgentPinningAnotherCaRefusesTheManager() {
        String wrongPin = "sha256:" + "00".repeat(32);
        assertThatThrownBy(() -> wire.post(Tls.pinned(wrongPin), "/agent/v1/enroll", "{}", "1"))
                .isInstanceOf(IOException.class);
    }

    @Test
    void reportsWithoutAValidCertificateAreRefused() throws Exception {
        AgentWire.Enrolled h = wire.enroll();
        String report = wire.report(wire.inventory(h), List.of());
        HttpResponse<String> none = wire.post(Tls.pinned(wire.pin()), "/agent/v1/reports", report, "1");
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.body()).contains("client-certificate-required");

        CertificateAuthority foreign = CertificateAuthority.loadOrCreate(dir.resolve("foreign-ca"), "Foreign CA");
        KeyPair keys = Keys.generate();
        SSLContext forged = attacker(keys, foreign.issue(keys.getPublic(), "host:" + h.hostId(), List.of("127.0.0.1"),
                Duration.ofDays(1)), foreign.certificate());
        // With client authentication "wanted" (enrollment needs none), the JDK ignores an untrusted client
        // certificate instead of failing the handshake; the report is then refused like one without any.
        HttpResponse<String> foreignCert = wire.post(forged, "/agent/v1/reports", report, "1");
        assertThat(foreignCert.statusCode()).as("a certificate of another CA").isEqualTo(401);
        assertThat(foreignCert.body()).contains("client-certificate-required");

        AgentWire.Enrolled other = wire.enroll();
        HttpResponse<String> mismatch = wire.post(other.tls(), "/agent/v1/reports", report, "1");
        assertThat(mismatch.statusCode()).isEqualTo(403);
        assertThat(mismatch.body()).contains("host-mismatch");
        JsonNode audited = wire.newest(other.hostId(), "host.report");
        assertThat(audited.path("outcome").asText()).isEqualTo("refused");
        assertThat(audited.path("reason").asText()).contains("host-mismatch");

        HttpResponse<String> version = wire.post(h.tls(), "/agent/v1/reports", report, "2");
        assertThat(version.statusCode()).isEqualTo(400);
        assertThat(version.body()).contains("protocol-version-mismatch");
    }

    @Test
    void removingAHostRevokesItsCertificate() throws Exception {
        AgentWire.Enrolled h = wire.enroll();
        assertThat(wire.sendReport(h).statusCode()).isEqualTo(200);
        assertThat(wire.api.delete("/api/v1/hosts/" + h.hostId()).status()).isEqualTo(204);
        HttpResponse<String> after = wire.sendReport(h);
        assertThat(after.statusCode()).isEqualTo(403);
        assertThat(after.body()).contains("certificate-revoked");
        assertThat(wire.api.get("/api/v1/hosts/" + h.hostId()).status()).isEqualTo(404);
        int revoked = wire.manager.database().jdbi().withHandle(hd -> hd.createQuery(
                "SELECT COUNT(*) FROM revoked_certificates WHERE host_id = :h").bind("h", h.hostId())
                .mapTo(Integer.class).one());
        assertThat(revoked).isEqualTo(1);
        assertThat(wire.audit(h.hostId()).findValuesAsText("action")).contains("host.remove");
        assertThat(Fingerprints.of(wire.manager.pki().ca().certificate())).isEqualTo(wire.manager.pki().caFingerprint());
    }
}
