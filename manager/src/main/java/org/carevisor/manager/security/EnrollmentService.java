package org.carevisor.manager.security;

import java.security.interfaces.ECPublicKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.db.Sql;
import org.carevisor.pki.Fingerprints;
import org.carevisor.pki.Pem;
import org.carevisor.pki.PkiException;
import org.carevisor.protocol.AgentEndpoint;
import org.carevisor.protocol.EnrollRequest;
import org.carevisor.protocol.EnrollResponse;
import org.carevisor.protocol.HostAddress;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.Protocol;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Enrolls hosts. The join token is checked first, before anything else of the request is looked at. The
 * manager decides the identity: a token without a host adds a <b>new</b> host with an id the manager
 * chooses (the agent stores it); an existing host is enrolled again (lost certificate, reinstall) only with a
 * token issued for that host, and only then is its previous certificate revoked. The certificate is the
 * manager's choice too: CN {@code host:<id>}, and as its only subject alternative name the address of the
 * agent's endpoint, validated ({@link HostAddress}) and refused when it belongs to the manager or another host
 * ({@link HostAddresses}). Every enrollment and every refusal is audited (repeated refusals of one kind are
 * counted, {@link RefusalLog}). Thread-safe: enrollments run one at a time.
 */
public final class EnrollmentService {
    private static final Pattern UUID_FORM = Pattern.compile(
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,252}");
    /** Largest certificate request accepted (an EC P-256 request in PEM is about 500 bytes). */
    static final int MAX_CSR_CHARS = 8192;

    private final Jdbi jdbi;
    private final JoinTokens tokens;
    private final ManagerPki pki;
    private final AuditLog audit;
    private final HostAddresses addresses;
    private final RefusalLog refusals;
    private final ReentrantLock lock = new ReentrantLock();

    public EnrollmentService(Jdbi jdbi, JoinTokens tokens, ManagerPki pki, AuditLog audit) {
        this.jdbi = jdbi;
        this.tokens = tokens;
        this.pki = pki;
        this.audit = audit;
        this.addresses = new HostAddresses(pki.names());
        this.refusals = new RefusalLog(audit, Duration.ofMinutes(1));
    }

    /** What a valid request asks for, checked. */
    private record Checked(String hostname, AgentEndpoint endpoint, HostAddress migrationAddress,
                           PKCS10CertificationRequest csr) {
    }

    public EnrollResponse enroll(EnrollRequest r, String clientAddress) {
        String shownName = r.hostname() != null && NAME.matcher(r.hostname()).matches() ? r.hostname() : "unnamed";
        Actor actor = Actor.user("agent:" + shownName, clientAddress);
        String claimed = r.hostId() != null && UUID_FORM.matcher(r.hostId()).matches() ? r.hostId() : null;
        try {
            JoinTokens.Grant grant = tokens.check(r.token()); // first: nothing else is read for a bad token
            Checked c = validate(r);
            lock.lock();
            try {
                return jdbi.inTransaction(h -> enroll(h, r, c, grant, actor, clientAddress));
            } finally {
                lock.unlock();
            }
        } catch (ApiException e) {
            // a bad token says nothing more than its code; a token holder's refusals each say something
            String kind = e.status() == 401 ? e.code() : e.code() + "|" + claimed + "|" + e.getMessage().hashCode();
            refusals.refused("enroll|" + clientAddress, kind, new AuditLog.Entry(actor, "host.enroll", "host",
                    claimed, shownName, null, null, Clip.text(e.getMessage(), 1800), AuditLog.Outcome.REFUSED, null));
            throw e;
        }
    }

    private Checked validate(EnrollRequest r) {
        List<ApiException.FieldError> errors = new java.util.ArrayList<>();
        if (r.hostId() != null && !UUID_FORM.matcher(r.hostId()).matches()) {
            errors.add(new ApiException.FieldError("hostId", "must be a lower-case UUID (the id this host had) or"
                    + " left out for a new host"));
        }
        if (r.hostname() == null || !NAME.matcher(r.hostname()).matches()) {
            errors.add(new ApiException.FieldError("hostname", "must be 1-253 letters, digits, '.', '_' or '-',"
                    + " starting with a letter or digit"));
        }
        AgentEndpoint endpoint = null;
        try {
            endpoint = AgentEndpoint.parse(r.endpoint());
        } catch (IllegalArgumentException e) {
            errors.add(new ApiException.FieldError("endpoint", e.getMessage()));
        }
        if (endpoint != null) {
            if (r.names().size() > 4) {
                errors.add(new ApiException.FieldError("names", "at most 4 entries"));
            }
            for (String n : r.names()) {
                if (!same(n, endpoint.host())) {
                    errors.add(new ApiException.FieldError("names", "'" + Clip.text(n, 80) + "' is not the endpoint's"
                            + " address " + endpoint.host() + "; a host certificate names only that address"));
                    break;
                }
            }
        }
        HostAddress migration = endpoint == null ? null : endpoint.host();
        if (r.migrationAddress() != null) {
            try {
                migration = HostAddress.parse(r.migrationAddress());
            } catch (IllegalArgumentException e) {
                errors.add(new ApiException.FieldError("migrationAddress", e.getMessage()));
            }
        }
        PKCS10CertificationRequest csr = null;
        if (r.csrPem() == null || r.csrPem().length() > MAX_CSR_CHARS) {
            errors.add(new ApiException.FieldError("csrPem", "must be a PEM certificate request of at most "
                    + MAX_CSR_CHARS + " characters"));
        } else if (errors.isEmpty()) {
            csr = csr(r.csrPem(), errors);
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        return new Checked(r.hostname(), endpoint, migration, csr);
    }

    private static boolean same(String name, HostAddress address) {
        try {
            return HostAddress.parse(name).equals(address);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** The request, if it is one for an EC P-256 key signed with that key. */
    private static PKCS10CertificationRequest csr(String pem, List<ApiException.FieldError> errors) {
        try {
            PKCS10CertificationRequest csr = Pem.request(pem);
            if (!(new JcaPKCS10CertificationRequest(csr).getPublicKey() instanceof ECPublicKey ec)
                    || ec.getParams().getCurve().getField().getFieldSize() != 256) {
                errors.add(new ApiException.FieldError("csrPem", "must be for an EC P-256 key (as the agent makes)"));
                return null;
            }
            return csr;
        } catch (java.security.GeneralSecurityException | RuntimeException e) {
            errors.add(new ApiException.FieldError("csrPem", "not a readable certificate request: "
                    + Clip.text(e.getMessage(), 200)));
            return null;
        }
    }

    private EnrollResponse enroll(Handle h, EnrollRequest r, Checked c, JoinTokens.Grant grant, Actor actor,
                                  String clientAddress) {
        String hostId;
        String previousSerial = null;
        String previousName = null;
        if (grant.forHost()) {
            hostId = grant.hostId();
            if (r.hostId() != null && !r.hostId().equals(hostId)) {
                throw new ApiException(403, "join-token-host-mismatch", "Enrollment refused", "the join token was"
                        + " issued for host " + hostId + ", but this agent was host " + r.hostId() + "; create a token"
                        + " for the host it is (carevisor host join-token create --host HOST)", null);
            }
            var row = h.createQuery("SELECT name, cert_serial FROM hosts WHERE id = :id").bind("id", hostId)
                    .map((rs, x) -> new String[] {rs.getString("name"), rs.getString("cert_serial")}).findOne();
            if (row.isEmpty()) {
                throw ApiException.conflict("join-token-host-gone", "the join token was issued for host " + hostId
                        + ", which has been removed since; enroll it as a new host with a token without --host");
            }
            previousName = row.get()[0];
            previousSerial = row.get()[1];
        } else {
            if (r.hostId() != null) {
                var existing = h.createQuery("SELECT name FROM hosts WHERE id = :id").bind("id", r.hostId())
                        .mapTo(String.class).findOne();
                if (existing.isPresent()) {
                    throw new ApiException(403, "host-token-required", "Enrollment refused", "host " + existing.get()
                            + " (" + r.hostId() + ") is enrolled already, and a join token without a host only adds"
                            + " a new host; to enroll this host again (lost certificate, reinstall) create a token"
                            + " for it: carevisor host join-token create --host " + existing.get(), null);
                }
            }
            hostId = UUID.randomUUID().toString();
        }
        addresses.check(h, "endpoint", c.endpoint().host(), hostId, clientAddress);
        if (!c.migrationAddress().equals(c.endpoint().host())) {
            addresses.check(h, "migrationAddress", c.migrationAddress(), hostId, clientAddress);
        }
        var sameName = h.createQuery("SELECT id FROM hosts WHERE name = :name AND id <> :id")
                .bind("name", c.hostname()).bind("id", hostId).mapTo(String.class).findOne();
        if (sameName.isPresent()) {
            throw ApiException.conflict("host-name-in-use", "hostname", "host name '" + c.hostname() + "' belongs to"
                    + " host " + sameName.get() + "; give this agent another --host-name");
        }
        JoinTokens.Grant used = tokens.consume(h, r.token(), hostId);
        if (!java.util.Objects.equals(used.hostId(), grant.hostId())) {
            throw new IllegalStateException("the join token changed while it was being used");
        }
        X509Certificate cert;
        try {
            cert = pki.ca().issue(c.csr(), "host:" + hostId, List.of(c.endpoint().host().value()),
                    ManagerPki.HOST_CERT_VALIDITY);
        } catch (PkiException e) {
            throw ApiException.invalid("csrPem", e.getMessage());
        }
        String serial = cert.getSerialNumber().toString(16);
        Instant now = Instant.now();
        String endpoint = c.endpoint().toString();
        if (grant.forHost()) {
            h.createUpdate("""
                    UPDATE hosts SET name = :name, endpoint = :endpoint, migration_address = :migration,
                      cert_serial = :serial, cert_fingerprint = :fp, cert_pem = :pem, enrolled_at = :now
                    WHERE id = :id""")
                    .bind("name", c.hostname()).bind("endpoint", endpoint)
                    .bind("migration", c.migrationAddress().value()).bind("serial", serial).bind("pem", Pem.write(cert))
                    .bind("fp", Fingerprints.of(cert)).bind("now", Sql.ts(now)).bind("id", hostId).execute();
            if (previousSerial != null && !previousSerial.equals(serial)) {
                pki.revoke(h, previousSerial, hostId, previousName, actor.name(), "replaced by a re-enrollment with a"
                        + " join token for this host");
            }
        } else {
            String inventory = org.carevisor.manager.api.Json.write(new HostInventory(hostId, c.hostname(), endpoint,
                    0, "", 0, 0, "", 0, 0, "", "", List.of(), false, "", Protocol.VERSION, null, 0, List.of(),
                    List.of(), c.migrationAddress().value(), 0, 0));
            h.createUpdate("""
                    INSERT INTO hosts (id, name, endpoint, inventory_json, first_seen, last_seen, cert_serial,
                                       cert_fingerprint, cert_pem, enrolled_at, cluster_id, migration_address)
                    VALUES (:id, :name, :endpoint, :inv, :now, :now, :serial, :fp, :pem, :now, :cluster, :migration)""")
                    .bind("pem", Pem.write(cert))
                    .bind("cluster", grant.clusterId() == null
                            ? org.carevisor.manager.cluster.ClusterRecord.DEFAULT_ID : grant.clusterId())
                    .bind("id", hostId).bind("name", c.hostname()).bind("endpoint", endpoint)
                    .bind("inv", inventory).bind("now", Sql.ts(now)).bind("serial", serial)
                    .bind("fp", Fingerprints.of(cert)).bind("migration", c.migrationAddress().value()).execute();
        }
        Map<String, Object> after = new LinkedHashMap<>();
        after.put("name", c.hostname());
        after.put("endpoint", endpoint);
        after.put("migrationAddress", c.migrationAddress().value());
        after.put("certificateSerial", serial);
        after.put("certificateNames", List.of(c.endpoint().host().value()));
        after.put("joinToken", grant.tokenId());
        if (!grant.forHost()) {
            after.put("cluster", grant.clusterId() == null ? "default" : grant.clusterId());
        }
        String why = grant.forHost()
                ? "re-enrollment with a join token for this host" + (previousSerial == null ? ""
                        : "; certificate " + previousSerial + " revoked")
                : "new host; id assigned by the manager" + (r.hostId() == null ? ""
                        : " (this agent's state named host " + r.hostId() + ", which the manager does not know)");
        audit.record(h, new AuditLog.Entry(actor, "host.enroll", "host", hostId, c.hostname(), null, after, why,
                AuditLog.Outcome.SUCCESS, null));
        return new EnrollResponse(hostId, Pem.write(cert), Pem.write(pki.ca().certificate()));
    }
}
