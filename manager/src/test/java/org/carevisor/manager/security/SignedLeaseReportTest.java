package org.carevisor.manager.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.carevisor.pki.Pem;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.LeaseSeen;
import org.carevisor.protocol.ProtocolJson;
import org.carevisor.protocol.SignedLease;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Signed storage leases through a real manager's agent listener (TLS, the manager's CA, real SQL): the manager keeps
 * each host's certificate from its enrollment (or from its next report, for a host enrolled before it did), a lease
 * counts only when its owner signed it, and a host that reports forged leases or leases of hosts the manager does not
 * know is audited as {@code ha.lease-refused} - once, naming it - while its reports are taken in and HA goes on.
 */
class SignedLeaseReportTest {
    @TempDir
    static Path dir;
    static AgentWire wire;
    static AgentWire.Enrolled victim;
    static AgentWire.Enrolled rogue;

    @BeforeAll
    static void start() throws Exception {
        wire = new AgentWire(dir);
        victim = wire.enroll("victim", "https://127.0.0.1:7801", null);
        rogue = wire.enroll("rogue", "https://127.0.0.1:7802", null);
    }

    @AfterAll
    static void stop() {
        if (wire != null) {
            wire.close();
        }
    }

    private static String storedCertificate(String hostId) {
        return wire.manager.database().jdbi().withHandle(h -> h.createQuery("SELECT cert_pem FROM hosts WHERE id = :id")
                .bind("id", hostId).mapTo(String.class).findOne().orElse(null));
    }

    private static HttpResponse<String> report(AgentWire.Enrolled from, List<LeaseSeen> leases) throws Exception {
        String body = ProtocolJson.mapper().writeValueAsString(new HostReport(wire.inventory(from), List.of(),
                System.nanoTime(), Instant.now(), Instant.EPOCH, leases));
        return wire.post(from.tls(), "/agent/v1/reports", body, "1");
    }

    private static LeaseSeen seen(String text) {
        return SignedLease.parse(text).seen(text);
    }

    private static SignedLease lease(String host, long counter, List<SignedLease.Released> released) {
        return new SignedLease(host, counter, Instant.now(), SignedLease.AGENT, released, null);
    }

    private static JsonNode haHost(String id) {
        for (JsonNode h : wire.api.get("/api/v1/ha").json().path("hosts")) {
            if (h.path("id").asText().equals(id)) {
                return h;
            }
        }
        return null;
    }

    private static List<JsonNode> refusals() {
        List<JsonNode> out = new java.util.ArrayList<>();
        wire.auditAction("ha.lease-refused").forEach(out::add);
        return out;
    }

    @Test
    void theManagerKeepsEachHostsCertificateFromItsEnrollmentOrItsNextReport() throws Exception {
        assertThat(storedCertificate(victim.hostId())).isEqualTo(Pem.write(victim.identity().certificate()));
        // a host enrolled before the manager kept certificates
        wire.manager.database().jdbi().useHandle(h -> h.createUpdate("UPDATE hosts SET cert_pem = NULL WHERE id = :id")
                .bind("id", rogue.hostId()).execute());
        assertThat(storedCertificate(rogue.hostId())).isNull();
        assertThat(wire.sendReport(rogue).statusCode()).isEqualTo(200);
        assertThat(storedCertificate(rogue.hostId())).isEqualTo(Pem.write(rogue.identity().certificate()));
    }

    @Test
    void onlyLeasesSignedByTheirOwnerCountAndForgedOnesAreAuditedOnceNamingTheReporter() throws Exception {
        String victimKeyLease = lease(victim.hostId(), 1000, List.of()).sign(victim.identity().key());
        assertThat(report(victim, List.of(seen(victimKeyLease))).statusCode()).isEqualTo(200);
        Poll.until(Duration.ofSeconds(5), "the victim's own lease to count", () -> haHost(victim.hostId()) != null
                && haHost(victim.hostId()).path("leaseCounter").asLong() == 1000 ? true : null);

        // the rogue's forgeries of the victim's lease: signed with its own key, with a huge counter, unsigned
        String forged = lease(victim.hostId(), Long.MAX_VALUE - 1, List.of(new SignedLease.Released(
                "aaaaaaaa-0000-4000-8000-000000000001", 0))).sign(rogue.identity().key());
        String unsigned = lease(victim.hostId(), 1001, List.of()).body();
        for (int i = 0; i < 5; i++) {
            HttpResponse<String> r = report(rogue, List.of(seen(forged), seen(unsigned)));
            assertThat(r.statusCode()).as("the report itself is taken in: " + r.body()).isEqualTo(200);
        }
        assertThat(haHost(victim.hostId()).path("leaseCounter").asLong()).as("nothing forged counted").isEqualTo(1000);
        List<JsonNode> refused = refusals().stream().filter(x -> x.path("targetId").asText().equals(victim.hostId()))
                .toList();
        assertThat(refused).as("once per episode and reason, not once per report").hasSize(2);
        assertThat(refused).allSatisfy(x -> {
            assertThat(x.path("actor").asText()).isEqualTo("agent:rogue");
            assertThat(x.path("outcome").asText()).isEqualTo("refused");
            assertThat(x.path("reason").asText()).contains("reported by host rogue", "counts for nothing");
        });
        assertThat(refused).extracting(x -> x.path("reason").asText())
                .anySatisfy(x -> assertThat(x).contains("lease-signature-invalid"))
                .anySatisfy(x -> assertThat(x).contains("lease-unsigned"));

        // the victim's genuine lease as the rogue read it counts (peers report each other's leases)
        String genuine = lease(victim.hostId(), 1003, List.of()).sign(victim.identity().key());
        assertThat(report(rogue, List.of(seen(genuine))).statusCode()).isEqualTo(200);
        assertThat(haHost(victim.hostId()).path("leaseCounter").asLong()).isEqualTo(1003);
        // sent again later: old news, counts nothing more
        assertThat(report(rogue, List.of(seen(victimKeyLease))).statusCode()).isEqualTo(200);
        assertThat(haHost(victim.hostId()).path("leaseCounter").asLong()).isEqualTo(1003);
    }

    @Test
    void aLeaseOfAHostTheManagerDoesNotKnowIsIgnoredAndHaGoesOnDeciding() throws Exception {
        String ghost = "99999999-0000-4000-8000-000000000009";
        String text = lease(ghost, 7, List.of()).sign(rogue.identity().key());
        for (int i = 0; i < 3; i++) {
            assertThat(report(rogue, List.of(seen(text))).statusCode()).isEqualTo(200);
        }
        long evaluations = wire.manager.jobs().status().stream().filter(j -> j.name().equals("ha-evaluation"))
                .findFirst().orElseThrow().passes();
        Poll.until(Duration.ofSeconds(10), "HA to keep evaluating", () -> wire.manager.jobs().status().stream()
                .filter(j -> j.name().equals("ha-evaluation")).findFirst().orElseThrow().passes() > evaluations + 2
                ? true : null);
        assertThat(wire.manager.jobs().status().stream().filter(j -> j.name().equals("ha-evaluation")).findFirst()
                .orElseThrow().failures()).isZero();
        assertThat(haHost(ghost)).as("never part of HA's state").isNull();
        assertThat(refusals()).filteredOn(x -> x.path("reason").asText().contains("lease-unknown-host"))
                .singleElement().satisfies(x -> {
                    assertThat(x.path("actor").asText()).isEqualTo("agent:rogue");
                    assertThat(x.path("reason").asText()).contains(ghost, "does not know");
                });
    }
}
