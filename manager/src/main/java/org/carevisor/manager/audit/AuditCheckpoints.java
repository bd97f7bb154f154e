package org.carevisor.manager.audit;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import org.carevisor.manager.db.Sql;
import org.carevisor.pki.Pem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Signs the audit chain head with the manager's key (ECDSA P-256, certificate issued by the manager's CA)
 * periodically and at shutdown. A signed checkpoint fixes every record up to it: rewriting the chain (even
 * with recomputed hashes) no longer matches a signature only the manager's key can make.
 */
public final class AuditCheckpoints implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AuditCheckpoints.class);
    static final String ALGORITHM = "SHA256withECDSA";

    /** A signed chain head. */
    public record Checkpoint(long seq, String hash, Instant signedAt, String signature, String certificatePem) {
    }

    private final AuditLog audit;
    private final PrivateKey key;
    private final X509Certificate certificate;
    private final ScheduledExecutorService timer;

    public AuditCheckpoints(AuditLog audit, PrivateKey key, X509Certificate certificate, IntSupplier intervalSeconds) {
        this.audit = audit;
        this.key = key;
        this.certificate = certificate;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "audit-checkpoints");
            t.setDaemon(true);
            return t;
        });
        schedule(intervalSeconds);
    }

    private void schedule(IntSupplier interval) {
        timer.schedule(() -> {
            try {
                checkpoint();
            } catch (RuntimeException e) {
                LOG.warn("could not sign the audit chain head: {}", e.toString());
            }
            schedule(interval);
        }, interval.getAsInt(), TimeUnit.SECONDS);
    }

    /** Signs the current head if it moved since the last checkpoint; returns the newest checkpoint. */
    public synchronized Checkpoint checkpoint() {
        AuditLog.Head head = audit.head();
        Checkpoint last = latest();
        if (last != null && last.seq() >= head.seq()) {
            return last;
        }
        Instant at = Sql.now();
        String sig;
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initSign(key);
            s.update(payload(head.seq(), head.hash(), at));
            sig = Base64.getEncoder().encodeToString(s.sign());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign the audit chain head", e);
        }
        Checkpoint c = new Checkpoint(head.seq(), head.hash(), at, sig, Pem.write(certificate));
        audit.jdbi().useHandle(h -> h.createUpdate("""
                INSERT INTO audit_checkpoints (seq, hash, signed_at, signature, certificate)
                VALUES (:s, :h, :t, :sig, :cert)""").bind("s", c.seq()).bind("h", c.hash())
                .bind("t", Sql.ts(c.signedAt())).bind("sig", c.signature()).bind("cert", c.certificatePem()).execute());
        return c;
    }

    public Checkpoint latest() {
        return audit.jdbi().withHandle(h -> h.createQuery("SELECT * FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
                .map((rs, ctx) -> map(rs)).findOne().orElse(null));
    }

    static List<Checkpoint> all(AuditLog audit) {
        return audit.jdbi().withHandle(h -> h.createQuery("SELECT * FROM audit_checkpoints ORDER BY seq")
                .map((rs, ctx) -> map(rs)).list());
    }

    private static Checkpoint map(java.sql.ResultSet rs) throws java.sql.SQLException {
        return new Checkpoint(rs.getLong("seq"), rs.getString("hash"), Sql.instant(rs, "signed_at"),
                rs.getString("signature"), rs.getString("certificate"));
    }

    static byte[] payload(long seq, String hash, Instant at) {
        return ("carevisor-audit-v1|" + seq + "|" + hash + "|" + at).getBytes(StandardCharsets.UTF_8);
    }

    /** Null when the checkpoint's signature is valid and made by a manager certificate of {@code ca}; else why not. */
    static String check(Checkpoint c, X509Certificate ca) {
        try {
            X509Certificate cert = Pem.certificate(c.certificatePem());
            try {
                cert.verify(ca.getPublicKey());
            } catch (GeneralSecurityException e) {
                return "its certificate was not issued by this manager's CA";
            }
            String cn = cert.getSubjectX500Principal().getName();
            if (!cn.contains("CN=manager")) {
                return "its certificate is not a manager certificate (" + cn + ")";
            }
            Signature s = Signature.getInstance(ALGORITHM);
            s.initVerify(cert.getPublicKey());
            s.update(payload(c.seq(), c.hash(), c.signedAt()));
            return s.verify(Base64.getDecoder().decode(c.signature())) ? null : "its signature does not match";
        } catch (GeneralSecurityException | RuntimeException e) {
            return "its signature cannot be read: " + e.getMessage();
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
        try {
            checkpoint();
        } catch (RuntimeException e) {
            LOG.warn("could not sign the audit chain head at shutdown: {}", e.toString());
        }
    }
}
