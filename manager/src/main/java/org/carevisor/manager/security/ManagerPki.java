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
    private final Set<String> names;

    private ManagerPki(CertificateAuthority ca, Tls.Identity identity, Jdbi jdbi, Set<String> names) {
        this.ca = ca;
        this.names = Set.copyOf(names);
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
        Set<String> canonical = new LinkedHashSet<>();
        for (String name : all) {
            try {
                canonical.add(org.carevisor.protocol.HostAddress.parse(name).value());
            } catch (IllegalArgumentException e) {
                // 0.0.0.0 and the like: nothing a host could be named
            }
        }
        return new ManagerPki(ca, new Tls.Identity(keys.getPrivate(), cert, ca.certificate()), jdbi, canonical);
    }

    /**
     * The addresses and names in the manager's certificate (canonical {@code HostAddress} form): no host
     * certificate may carry one of them, or its holder could pose as the manager.
     */
    public Set<String> names() {
        return names;
    }

    public CertificateAuthority ca() {
        return ca;
    }

    public String caFingerprint() {
        return ca.fingerprint();
    }

    /** TLS context that presents the manager's certificate and trusts only the Carevisor CA (the agent listener). */
    public SSLContext context() {
        return context;
    }

    /**
     * TLS context for calling agents: besides the CA and the host name, the agent's certificate must be the current
     * certificate of a host registered at the address called (its serial and common name {@code host:<id>}), so
     * no other certificate of the CA - another host's, a revoked one - is taken for that host.
     */
    public SSLContext agentClientContext() {
        return Tls.context(identity, this::checkAgent);
    }

    private void checkAgent(X509Certificate leaf, String peerHost) throws java.security.cert.CertificateException {
        String serial = leaf.getSerialNumber().toString(16);
        String cn = org.carevisor.pki.Fingerprints.commonName(leaf);
        if (peerHost == null) {
            throw new java.security.cert.CertificateException("no host name to check the agent's certificate against");
        }
        if (revoked.contains(serial)) {
            throw new java.security.cert.CertificateException("the agent at " + peerHost
                    + " presented a revoked certificate (serial " + serial + ")");
        }
        List<String[]> hosts = jdbi.withHandle(h -> h.createQuery("SELECT id, endpoint, cert_serial FROM hosts")
                .map((rs, c) -> new String[] {rs.getString("id"), rs.getString("endpoint"), rs.getString("cert_serial")})
                .list());
        for (String[] host : hosts) {
            String address;
            try {
                address = java.net.URI.create(host[1]).getHost();
            } catch (RuntimeException e) {
                continue;
            }
            if (address != null && address.replaceAll("^\\[|]$", "").equalsIgnoreCase(peerHost)
                    && serial.equalsIgnoreCase(host[2]) && ("host:" + host[0]).equals(cn)) {
                return;
            }
        }
        throw new java.security.cert.CertificateException("the agent at " + peerHost + " presented the certificate of '"
                + cn + "' (serial " + serial + "), which is not the current certificate of the host registered there");
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
