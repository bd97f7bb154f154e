package org.carevisor.manager.audit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Base64;
import org.carevisor.manager.secrets.PrivateFiles;
import org.carevisor.manager.secrets.SecretsException;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Pem;

/**
 * The key that signs audit checkpoints (ECDSA P-256): separate from the CA key and from the manager's TLS key,
 * kept outside the data directory in {@code <key-dir>/checkpoint.key} (mode 0600; the private key followed by its
 * public key) with a copy of the public key in {@code checkpoint.pub} for verifying elsewhere. Made on the first
 * start; never replaced silently once checkpoints were signed with it. Thread-safe.
 */
public final class CheckpointKey {
    static final String ALGORITHM = "SHA256withECDSA";
    public static final String FILE = "checkpoint.key";
    public static final String PUBLIC_FILE = "checkpoint.pub";

    private final Path file;
    private final PrivateKey privateKey;
    private final PublicKey publicKey;
    private final String id;

    private CheckpointKey(Path file, PrivateKey privateKey, PublicKey publicKey) {
        this.file = file;
        this.privateKey = privateKey;
        this.publicKey = publicKey;
        this.id = "sha256:" + java.util.HexFormat.of().formatHex(AuditChain.sha256().digest(publicKey.getEncoded()));
    }

    /**
     * Loads the key from {@code keyDir}, or creates it there when it does not exist and {@code signedKeyId} is null
     * (no chained checkpoint was signed yet). When checkpoints were signed and the key file is missing, the start
     * is refused with a message naming the file to restore: a new key would make a rewritten trail look genuine.
     */
    public static CheckpointKey open(Path keyDir, String signedKeyId) throws IOException {
        Path file = keyDir.resolve(FILE);
        if (!Files.exists(file)) {
            if (signedKeyId != null) {
                throw new SecretsException("the audit checkpoint key " + file + " is missing, but the audit trail has"
                        + " checkpoints signed with key " + signedKeyId + ": restore " + file + " from the backup of"
                        + " the key directory " + keyDir + " (see docs/operations.md, 'Key files'), or set --key-dir"
                        + " to where it is kept; the manager does not make a new key, which would let a rewritten trail"
                        + " pass as genuine");
            }
            KeyPair keys = Keys.generate();
            PrivateFiles.directory(keyDir);
            PrivateFiles.write(file, Pem.write(keys.getPrivate()) + Pem.write(keys.getPublic()));
            PrivateFiles.write(keyDir.resolve(PUBLIC_FILE), Pem.write(keys.getPublic()));
            return new CheckpointKey(file, keys.getPrivate(), keys.getPublic());
        }
        String text = Files.readString(file, StandardCharsets.US_ASCII);
        int pub = text.indexOf("-----BEGIN PUBLIC KEY-----");
        CheckpointKey key;
        try {
            if (pub < 0) {
                throw new IllegalArgumentException("no public key in it");
            }
            key = new CheckpointKey(file, Pem.privateKey(text.substring(0, pub)), Pem.publicKey(text.substring(pub)));
            key.requirePair();
        } catch (RuntimeException e) {
            throw new SecretsException("the audit checkpoint key " + file + " cannot be read (" + e.getMessage()
                    + "): restore it from the backup of the key directory " + keyDir, e);
        }
        PrivateFiles.file(file);
        if (!Files.exists(keyDir.resolve(PUBLIC_FILE))) {
            PrivateFiles.write(keyDir.resolve(PUBLIC_FILE), Pem.write(key.publicKey));
        }
        return key;
    }

    private void requirePair() {
        byte[] probe = "carevisor-checkpoint-key-probe".getBytes(StandardCharsets.US_ASCII);
        if (!verify(probe, sign(probe))) {
            throw new IllegalArgumentException("its private and public key do not belong together");
        }
    }

    /** The key's id: {@code sha256:<hex>} of its public key (stored with every checkpoint). */
    public String id() {
        return id;
    }

    public Path file() {
        return file;
    }

    public PublicKey publicKey() {
        return publicKey;
    }

    /** A base64 ECDSA signature of {@code payload}. */
    public String sign(byte[] payload) {
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initSign(privateKey);
            s.update(payload);
            return Base64.getEncoder().encodeToString(s.sign());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign an audit checkpoint", e);
        }
    }

    /** True when {@code signature} (base64) is this key's signature of {@code payload}. */
    public boolean verify(byte[] payload, String signature) {
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initVerify(publicKey);
            s.update(payload);
            return s.verify(Base64.getDecoder().decode(signature));
        } catch (GeneralSecurityException | IllegalArgumentException | NullPointerException e) {
            return false;
        }
    }
}
