package org.carevisor.manager.secrets;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Set;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Seals secrets kept in the database (BMC passwords) with AES-256-GCM from the JDK, under a 256-bit key kept in a
 * key file outside the database and the data directory ({@code <key-dir>/secrets.key}, mode 0600, made on the
 * first start). A sealed value reads {@code cvenc1:<key id>:<base64 of 12-byte nonce, ciphertext, 16-byte tag>};
 * the place it belongs to (table, column, row id) is authenticated with it, so a value copied to another row
 * does not open. Thread-safe.
 */
public final class SecretBox {
    public static final String PREFIX = "cvenc1:";
    private static final String KEY_HEADER = "carevisor-secrets-key-v1";
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path file;
    private final SecretKeySpec key;
    private final String keyId;

    private SecretBox(Path file, byte[] key) {
        this.file = file;
        this.key = new SecretKeySpec(key, "AES");
        this.keyId = keyId(key);
    }

    /**
     * Loads the key from {@code file}, or creates it when it does not exist and no stored value is sealed yet.
     * {@code sealedKeyIds} are the key ids of the values already sealed in the database: a missing file or a key
     * that is not theirs is refused with a message that names the file and what to restore - never a new key
     * (which would turn every stored password into an unreadable one) and never an empty password.
     */
    public static SecretBox open(Path file, Set<String> sealedKeyIds) throws IOException {
        if (!Files.exists(file)) {
            if (!sealedKeyIds.isEmpty()) {
                throw new SecretsException("the secrets key file " + file + " is missing, but the database holds"
                        + " secrets (BMC passwords) sealed with key " + String.join(", ", sealedKeyIds) + ": restore "
                        + file + " from the backup of the key directory " + file.getParent() + " (see"
                        + " docs/operations.md, 'Key files'), or set --key-dir to where it is kept; the manager does"
                        + " not make a new key, which would leave the stored passwords unreadable");
            }
            byte[] k = new byte[32];
            RANDOM.nextBytes(k);
            PrivateFiles.directory(file.getParent());
            PrivateFiles.write(file, KEY_HEADER + "\n" + Base64.getEncoder().encodeToString(k) + "\n");
            return new SecretBox(file, k);
        }
        byte[] k = read(file);
        SecretBox box = new SecretBox(file, k);
        for (String id : sealedKeyIds) {
            if (!id.equals(box.keyId)) {
                throw new SecretsException("the secrets key file " + file + " holds key " + box.keyId + ", but the"
                        + " database holds secrets (BMC passwords) sealed with key " + id + ": restore the " + file
                        + " that belongs to this database from the backup of " + file.getParent() + " (see"
                        + " docs/operations.md, 'Key files')");
            }
        }
        PrivateFiles.file(file);
        return box;
    }

    private static byte[] read(Path file) throws IOException {
        String[] lines = Files.readString(file, StandardCharsets.US_ASCII).strip().split("\\R");
        if (lines.length != 2 || !lines[0].equals(KEY_HEADER)) {
            throw new SecretsException("the secrets key file " + file + " is not a Carevisor secrets key (expected"
                    + " the line '" + KEY_HEADER + "' and a base64 key): restore it from the backup of "
                    + file.getParent());
        }
        byte[] k;
        try {
            k = Base64.getDecoder().decode(lines[1].strip());
        } catch (IllegalArgumentException e) {
            k = new byte[0];
        }
        if (k.length != 32) {
            throw new SecretsException("the secrets key file " + file + " does not hold a 256-bit key: restore it from"
                    + " the backup of " + file.getParent());
        }
        return k;
    }

    /** The key's id: the first 16 hex digits of a SHA-256 of the key (shown in messages, stored with each value). */
    static String keyId(byte[] key) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update("carevisor-secrets-key-id\n".getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(d.digest(key)).substring(0, 16);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public Path file() {
        return file;
    }

    public String keyId() {
        return keyId;
    }

    /** True when {@code stored} is a sealed value (else it is plaintext of an older version, or null). */
    public static boolean sealed(String stored) {
        return stored != null && stored.startsWith(PREFIX);
    }

    /** The key id of a sealed value, or null for anything else. */
    public static String keyIdOf(String stored) {
        if (!sealed(stored)) {
            return null;
        }
        int end = stored.indexOf(':', PREFIX.length());
        return end < 0 ? "?" : stored.substring(PREFIX.length(), end);
    }

    /** Seals {@code plaintext} for the place {@code where} (e.g. {@code host_fence.secret:<host id>}); null stays null. */
    public String seal(String where, String plaintext) {
        if (plaintext == null) {
            return null;
        }
        try {
            byte[] nonce = new byte[NONCE_BYTES];
            RANDOM.nextBytes(nonce);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            c.updateAAD(aad(where));
            byte[] sealed = c.doFinal(plaintext.getBytes(StandardCharsets.UTF_8));
            byte[] out = new byte[nonce.length + sealed.length];
            System.arraycopy(nonce, 0, out, 0, nonce.length);
            System.arraycopy(sealed, 0, out, nonce.length, sealed.length);
            return PREFIX + keyId + ":" + Base64.getEncoder().encodeToString(out);
        } catch (GeneralSecurityException e) {
            throw new SecretsException("cannot seal a secret with AES-256-GCM: " + e.getMessage(), e);
        }
    }

    /**
     * Opens a sealed value of the place {@code where}; null stays null. A plaintext value (an older version's,
     * not yet migrated), a value sealed with another key or a changed value is refused with a message naming the
     * key file: the caller never gets an empty or a wrong password.
     */
    public String open(String where, String stored) {
        if (stored == null) {
            return null;
        }
        if (!sealed(stored)) {
            throw new SecretsException("the secret of " + where + " is stored in plaintext (not sealed with "
                    + file + "): the manager seals such values when it starts; set the secret again");
        }
        String id = keyIdOf(stored);
        if (!keyId.equals(id)) {
            throw new SecretsException("the secret of " + where + " was sealed with key " + id + ", but " + file
                    + " holds key " + keyId + ": restore the key file that belongs to this database from its backup,"
                    + " or set the secret again");
        }
        try {
            byte[] all = Base64.getDecoder().decode(stored.substring(PREFIX.length() + id.length() + 1));
            if (all.length < NONCE_BYTES + TAG_BITS / 8) {
                throw new IllegalArgumentException("too short");
            }
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, all, 0, NONCE_BYTES));
            c.updateAAD(aad(where));
            return new String(c.doFinal(all, NONCE_BYTES, all.length - NONCE_BYTES), StandardCharsets.UTF_8);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new SecretsException("the secret of " + where + " cannot be opened with " + file + ": the stored"
                    + " value was changed or copied from another row; set the secret again", e);
        }
    }

    private static byte[] aad(String where) {
        return ("carevisor-secret|" + where).getBytes(StandardCharsets.UTF_8);
    }
}
