package org.carevisor.manager.ha;

import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.carevisor.pki.Fingerprints;
import org.carevisor.pki.Pem;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The public key of each host's current certificate ({@code hosts.cert_pem}, stored at enrollment), against which
 * the storage leases that name the host are verified. A certificate counts only when it is the host's: common name
 * {@code host:<id>} and the serial the host is enrolled with (a re-enrolled host's old key no longer verifies
 * anything). Read from the database at most every {@link #TTL_MILLIS} ms. Thread-safe.
 */
public final class HostKeys {
    private static final Logger LOG = LoggerFactory.getLogger(HostKeys.class);
    static final long TTL_MILLIS = 2000;

    /** A host's current certificate key. */
    public record HostKey(String hostId, String serial, PublicKey key) {
    }

    private final Jdbi jdbi;
    private final Set<String> warned = ConcurrentHashMap.newKeySet();
    private volatile Map<String, HostKey> keys = Map.of();
    private volatile long loadedAt = Long.MIN_VALUE;

    public HostKeys(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** The key of host {@code hostId}, or empty when the manager holds no usable certificate of it. */
    public Optional<HostKey> of(String hostId) {
        long now = System.nanoTime() / 1_000_000;
        if (loadedAt == Long.MIN_VALUE || now - loadedAt > TTL_MILLIS) {
            keys = load();
            loadedAt = now;
        }
        return Optional.ofNullable(keys.get(hostId));
    }

    /**
     * The key of host {@code hostId} read afresh from the database (at most every 250 ms): a host enrolled again a
     * moment ago signs with its new key before the cache expires.
     */
    public Optional<HostKey> fresh(String hostId) {
        long now = System.nanoTime() / 1_000_000;
        if (loadedAt == Long.MIN_VALUE || now - loadedAt > 250) {
            keys = load();
            loadedAt = now;
        }
        return Optional.ofNullable(keys.get(hostId));
    }

    private Map<String, HostKey> load() {
        Map<String, HostKey> out = new HashMap<>();
        jdbi.useHandle(h -> h.createQuery("SELECT id, cert_serial, cert_pem FROM hosts WHERE cert_pem IS NOT NULL")
                .map((rs, c) -> new String[] {rs.getString("id"), rs.getString("cert_serial"), rs.getString("cert_pem")})
                .forEach(r -> {
                    try {
                        X509Certificate cert = Pem.certificate(r[2]);
                        String cn = Fingerprints.commonName(cert);
                        String serial = cert.getSerialNumber().toString(16);
                        if (!cn.equals("host:" + r[0]) || !serial.equals(r[1])) {
                            throw new IllegalArgumentException("it is " + cn + " serial " + serial + ", not host:" + r[0]
                                    + " serial " + r[1]);
                        }
                        out.put(r[0], new HostKey(r[0], serial, cert.getPublicKey()));
                    } catch (RuntimeException e) {
                        if (warned.add(r[0] + "|" + r[1])) {
                            LOG.error("the stored certificate of host {} is not usable ({}); its storage leases count"
                                    + " for nothing until it is enrolled again", r[0], e.getMessage());
                        }
                    }
                }));
        return Map.copyOf(out);
    }

    /**
     * Stores {@code cert} as the certificate of a host enrolled before the manager kept certificates, when it is
     * the serial the host is enrolled with and none is stored yet (the agent listener calls this with the client
     * certificate of a report, after checking it).
     */
    public static void remember(Jdbi jdbi, String hostId, String serial, X509Certificate cert) {
        int n = jdbi.withHandle(h -> h.createUpdate("""
                UPDATE hosts SET cert_pem = :pem WHERE id = :id AND cert_serial = :serial AND cert_pem IS NULL""")
                .bind("pem", Pem.write(cert)).bind("id", hostId).bind("serial", serial).execute());
        if (n > 0) {
            LOG.info("host {}: certificate {} stored from its report (it was enrolled before certificates were kept);"
                    + " its storage leases are verified with it from now on", hostId, serial);
        }
    }
}
