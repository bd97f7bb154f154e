package org.carevisor.manager.security;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLContext;
import org.carevisor.manager.db.Sql;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Tls;
import org.jdbi.v3.core.Jdbi;

/**
 * The manager's side of the PKI: its certificate authority (in {@code <data-dir>/pki}), the manager's own
 * certificate (re-issued at every start for the configured names), and the set of revoked host
 * certificates. Thread-safe.
 */
public final class ManagerPki {
    public static final String MANAGER_CN = "manager";
    private static final Duration MANAGER_CERT_VALIDITY = Duration.ofDays(365);
    /** How long an enrolled host's certificate is valid; renewal is by enrolling again. */
    public static final Duration HOST_CERT_VALIDITY = Duration.ofDays(365);

    private final CertificateAuthority ca;
    private final Tls.Identity identity;
    private final SSLContext context;
    private final Jdbi jdbi;
    private final Set<String> revoked = ConcurrentHashMap.newKeySet();

    private ManagerPki(CertificateAuthority ca, Tls.Identity identity, Jdbi jdbi) {
        this.ca = ca;
        this.identity = identity;
        this.context = Tls.context(identity);
        this.jdbi = jdbi;
        revoked.addAll(jdbi.withHandle(h -> h.createQuery("SELECT serial FROM revoked_certificates")
                .mapTo(String.class).list()));
    }

    /** Loads or creates the CA and issues the manager's certificate for {@code names} (addresses, host names). */
    public static ManagerPki open(Path dataDir, List<String> names, Jdbi jdbi) throws IOException {
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dataDir.resolve("pki"), "Carevisor CA");
        Set<String> all = new LinkedHashSet<>(names);
        all.add("127.0.0.1");
        all.add("localhost");
        try {
            all.add(InetAddress.getLocalHost().getHostName());
        } catch (IOException e) {
            // no host name; addresses suffice
        }
        KeyPair keys = Keys.generate();
        X509Certificate cert = ca.issue(keys.getPublic(), MANAGER_CN, new ArrayList<>(all), MANAGER_CERT_VALIDITY);
        return new ManagerPki(ca, new Tls.Identity(keys.getPrivate(), cert, ca.certificate()), jdbi);
    }

    public CertificateAuthority ca() {
        return ca;
    }

    public String caFingerprint() {
        return ca.fingerprint();
    }

    /** TLS context that presents the manager's certificate and trusts only the Carevisor CA. */
    public SSLContext context() {
        return context;
    }

    public Tls.Identity identity() {
        return identity;
    }

    public boolean isRevoked(BigInteger serial) {
        return revoked.contains(serial.toString(16));
    }

    /** Revokes a certificate: the agent listener refuses it from now on (persisted). */
    public void revoke(org.jdbi.v3.core.Handle h, String serialHex, String hostId, String hostName, String by,
                       String reason) {
        h.createUpdate("""
                INSERT INTO revoked_certificates (serial, host_id, host_name, revoked_at, revoked_by, reason)
                VALUES (:s, :h, :n, :at, :by, :r)""").bind("s", serialHex).bind("h", hostId).bind("n", hostName)
                .bind("at", Sql.ts(java.time.Instant.now())).bind("by", by).bind("r", reason).execute();
        revoked.add(serialHex);
    }
}
