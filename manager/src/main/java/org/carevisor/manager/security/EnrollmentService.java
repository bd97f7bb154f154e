package org.carevisor.manager.security;

import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.db.Sql;
import org.carevisor.pki.Fingerprints;
import org.carevisor.pki.Pem;
import org.carevisor.pki.PkiException;
import org.carevisor.protocol.EnrollRequest;
import org.carevisor.protocol.EnrollResponse;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.Protocol;
import org.jdbi.v3.core.Jdbi;

/**
 * Enrolls hosts: checks the one-time join token, issues the host's certificate from the agent's own key,
 * and records the host with its certificate serial (a re-enrolled host's old certificate is revoked).
 * Every enrollment, and every refusal, is audited. Thread-safe.
 */
public final class EnrollmentService {
    private static final Pattern UUID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9.:-]{0,252}");

    private final Jdbi jdbi;
    private final JoinTokens tokens;
    private final ManagerPki pki;
    private final AuditLog audit;

    public EnrollmentService(Jdbi jdbi, JoinTokens tokens, ManagerPki pki, AuditLog audit) {
        this.jdbi = jdbi;
        this.tokens = tokens;
        this.pki = pki;
        this.audit = audit;
    }

    public EnrollResponse enroll(EnrollRequest r, String clientAddress) {
        Actor actor = Actor.user("agent:" + r.hostname(), clientAddress);
        try {
            if (r.hostId() == null || !UUID.matcher(r.hostId()).matches()) {
                throw ApiException.invalid("hostId", "must be a lower-case UUID");
            }
            if (r.hostname() == null || !NAME.matcher(r.hostname()).matches()) {
                throw ApiException.invalid("hostname", "must be a host name");
            }
            if (r.names().size() > 16 || r.names().stream().anyMatch(n -> !NAME.matcher(n).matches())) {
                throw ApiException.invalid("names", "must be at most 16 host names or IP addresses");
            }
            if (r.endpoint() == null || !r.endpoint().startsWith("https://")) {
                throw ApiException.invalid("endpoint", "must be the agent's https:// address");
            }
            EnrollResponse response = jdbi.inTransaction(h -> {
                String cluster = tokens.consume(h, r.token(), r.hostId());
                X509Certificate cert;
                try {
                    cert = pki.ca().issue(Pem.request(r.csrPem()), "host:" + r.hostId(), r.names(),
                            ManagerPki.HOST_CERT_VALIDITY);
                } catch (PkiException e) {
                    throw ApiException.invalid("csrPem", e.getMessage());
                }
                String serial = cert.getSerialNumber().toString(16);
                String previous = h.createQuery("SELECT cert_serial FROM hosts WHERE id = :id").bind("id", r.hostId())
                        .mapTo(String.class).findOne().orElse(null);
                Instant now = Instant.now();
                String inventory = org.carevisor.manager.api.Json.write(new HostInventory(r.hostId(), r.hostname(),
                        r.endpoint(), 0, "", 0, 0, "", 0, 0, "", "", List.of(), false, "", Protocol.VERSION, null, 0,
                        List.of(), List.of(), null));
                int updated = h.createUpdate("""
                        UPDATE hosts SET name = :name, endpoint = :endpoint, cert_serial = :serial,
                          cert_fingerprint = :fp, enrolled_at = :now WHERE id = :id""")
                        .bind("name", r.hostname()).bind("endpoint", r.endpoint()).bind("serial", serial)
                        .bind("fp", Fingerprints.of(cert)).bind("now", Sql.ts(now)).bind("id", r.hostId()).execute();
                if (updated == 0) {
                    h.createUpdate("""
                            INSERT INTO hosts (id, name, endpoint, inventory_json, first_seen, last_seen, cert_serial,
                                               cert_fingerprint, enrolled_at, cluster_id)
                            VALUES (:id, :name, :endpoint, :inv, :now, :now, :serial, :fp, :now, :cluster)""")
                            .bind("cluster", cluster == null ? org.carevisor.manager.cluster.ClusterRecord.DEFAULT_ID
                                    : cluster)
                            .bind("id", r.hostId()).bind("name", r.hostname()).bind("endpoint", r.endpoint())
                            .bind("inv", inventory).bind("now", Sql.ts(now)).bind("serial", serial)
                            .bind("fp", Fingerprints.of(cert)).execute();
                }
                if (previous != null && !previous.equals(serial)) {
                    pki.revoke(h, previous, r.hostId(), r.hostname(), actor.name(), "replaced by a new enrollment");
                }
                audit.record(h, new AuditLog.Entry(actor, "host.enroll", "host", r.hostId(), r.hostname(), null,
                        Map.of("endpoint", r.endpoint(), "certificateSerial", serial, "names", r.names(),
                                "cluster", cluster == null ? "default" : cluster),
                        previous == null ? "first enrollment" : "re-enrollment; certificate " + previous + " revoked",
                        AuditLog.Outcome.SUCCESS, null));
                return new EnrollResponse(r.hostId(), Pem.write(cert), Pem.write(pki.ca().certificate()));
            });
            return response;
        } catch (ApiException e) {
            audit.record(new AuditLog.Entry(actor, "host.enroll", "host", r.hostId(), r.hostname(), null, null,
                    e.getMessage(), AuditLog.Outcome.REFUSED, null));
            throw e;
        }
    }
}
