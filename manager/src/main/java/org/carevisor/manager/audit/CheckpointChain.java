package org.carevisor.manager.audit;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import org.carevisor.manager.audit.AuditCheckpoints.Checkpoint;
import org.carevisor.pki.Pem;

/**
 * The chain of audit checkpoints (pure functions). A chained checkpoint (version 2) signs
 * {@code carevisor-checkpoint-v2|trail|seq|record hash|signed at|previous checkpoint|key id} with the checkpoint
 * key; its own hash is the SHA-256 of that text, and the next checkpoint names it as its previous one. So removing
 * a checkpoint breaks the link of the next one, and a new checkpoint cannot be made without the key. The first
 * chained checkpoint names {@link #legacyLink} of the checkpoints made before the chain (version 1: signed by a
 * manager certificate of the CA over {@code carevisor-audit-v1|seq|hash|signed at}), which fixes those too.
 */
public final class CheckpointChain {
    static final String LEGACY_ALGORITHM = "SHA256withECDSA";

    private CheckpointChain() {
    }

    /** The text a chained checkpoint signs. */
    public static byte[] payload(String trail, long seq, String hash, Instant signedAt, String prev, String keyId) {
        return ("carevisor-checkpoint-v2|" + trail + "|" + seq + "|" + hash + "|" + signedAt + "|" + prev + "|" + keyId)
                .getBytes(StandardCharsets.UTF_8);
    }

    /** A checkpoint's own hash: SHA-256 (hex) of its payload. */
    public static String hash(byte[] payload) {
        return HexFormat.of().formatHex(AuditChain.sha256().digest(payload));
    }

    /**
     * What the first chained checkpoint names as its previous one: a SHA-256 over every checkpoint made before
     * the chain, in order (over none on a trail that had none).
     */
    public static String legacyLink(List<Checkpoint> legacy) {
        LegacyLink link = new LegacyLink();
        legacy.forEach(link::add);
        return link.value();
    }

    /** {@link #legacyLink} computed while the checkpoints made before the chain stream past. Not thread-safe. */
    static final class LegacyLink {
        private final MessageDigest d = AuditChain.sha256();

        LegacyLink() {
            d.update("carevisor-checkpoint-legacy\n".getBytes(StandardCharsets.US_ASCII));
        }

        void add(Checkpoint c) {
            d.update((c.seq() + "|" + c.hash() + "|" + c.signedAt() + "|" + c.signature() + "\n")
                    .getBytes(StandardCharsets.UTF_8));
        }

        String value() {
            try {
                return HexFormat.of().formatHex(((MessageDigest) d.clone()).digest());
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** Signs a new chained checkpoint of record {@code seq} (hash {@code hash}) after {@code prev}. */
    public static Checkpoint sign(String trail, long seq, String hash, Instant signedAt, String prev,
                                  CheckpointKey key) {
        byte[] payload = payload(trail, seq, hash, signedAt, prev, key.id());
        return new Checkpoint(seq, hash, signedAt, key.sign(payload), null, 2, prev, hash(payload), key.id());
    }

    /** Null when the chained checkpoint is intact and signed by {@code key} for {@code trail}; else why not. */
    public static String check(Checkpoint c, String trail, CheckpointKey key) {
        if (c.keyId() == null || !c.keyId().equals(key.id())) {
            return "it was signed with key " + c.keyId() + ", not with this manager's checkpoint key " + key.id()
                    + " (" + key.file() + ")";
        }
        byte[] payload = payload(trail, c.seq(), c.hash(), c.signedAt(), c.prevCheckpoint(), c.keyId());
        if (!hash(payload).equals(c.checkpointHash())) {
            return "its content no longer matches its checkpoint hash";
        }
        return key.verify(payload, c.signature()) ? null : "its signature does not match";
    }

    /** The text a checkpoint made before the chain signed. */
    static byte[] legacyPayload(long seq, String hash, Instant at) {
        return ("carevisor-audit-v1|" + seq + "|" + hash + "|" + at).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Null when a checkpoint made before the chain has a valid signature by a manager certificate of {@code ca};
     * else why not.
     */
    public static String checkLegacy(Checkpoint c, X509Certificate ca) {
        if (ca == null) {
            return "no CA certificate to check it against";
        }
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
            Signature s = Signature.getInstance(LEGACY_ALGORITHM);
            s.initVerify(cert.getPublicKey());
            s.update(legacyPayload(c.seq(), c.hash(), c.signedAt()));
            return s.verify(Base64.getDecoder().decode(c.signature())) ? null : "its signature does not match";
        } catch (GeneralSecurityException | RuntimeException e) {
            return "its signature cannot be read: " + e.getMessage();
        }
    }

    /**
     * Signs a checkpoint the way versions before the chain did (a manager certificate's key over the legacy
     * payload); only to make databases of those versions in tests and benchmarks.
     */
    static Checkpoint signLegacy(long seq, String hash, Instant at, java.security.PrivateKey key,
                                 X509Certificate certificate) {
        try {
            Signature s = Signature.getInstance(LEGACY_ALGORITHM);
            s.initSign(key);
            s.update(legacyPayload(seq, hash, at));
            return new Checkpoint(seq, hash, at, Base64.getEncoder().encodeToString(s.sign()), Pem.write(certificate),
                    1, null, null, null);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
