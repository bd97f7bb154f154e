package org.carevisor.manager.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

/**
 * Argon2id password hashes in the PHC string format ({@code $argon2id$v=19$m=19456,t=2,p=1$salt$hash}),
 * with the parameters OWASP recommends (19 MiB, 2 passes, 1 lane). Each hash takes tens of milliseconds on
 * purpose: guessing passwords from a stolen database stays slow. Every hash of this JVM runs through one
 * {@link HashingGate}, so parallel logins cannot exhaust the heap. Parameters are read back from the stored
 * string; a stored hash may not ask for more memory than {@link #MEMORY_KIB} (the gate is sized for that), so
 * raising the parameters later means raising this constant. Thread-safe.
 */
public final class PasswordHasher {
    static final int MEMORY_KIB = 19_456;
    private static final int ITERATIONS = 2;
    private static final int PARALLELISM = 1;
    private static final int SALT_BYTES = 16;
    private static final int HASH_BYTES = 32;
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Base64.Encoder B64 = Base64.getEncoder().withoutPadding();
    private static final Base64.Decoder B64D = Base64.getDecoder();
    private static final HashingGate GATE = HashingGate.forThisJvm();

    private PasswordHasher() {
    }

    /** The gate every hash of this JVM passes. */
    public static HashingGate gate() {
        return GATE;
    }

    /** A new hash of {@code password}; 503 {@code auth-busy} when the gate stays full. */
    public static String hash(String password) {
        byte[] salt = new byte[SALT_BYTES];
        RANDOM.nextBytes(salt);
        byte[] out = GATE.run(() -> derive(password, salt, MEMORY_KIB, ITERATIONS, PARALLELISM, HASH_BYTES));
        return "$argon2id$v=19$m=" + MEMORY_KIB + ",t=" + ITERATIONS + ",p=" + PARALLELISM + "$" + B64.encodeToString(salt)
                + "$" + B64.encodeToString(out);
    }

    /**
     * True when {@code password} matches {@code stored}; false for any malformed stored value; 503
     * {@code auth-busy} when the gate stays full.
     */
    public static boolean verify(String password, String stored) {
        if (password == null || stored == null) {
            return false;
        }
        String[] parts = stored.split("\\$");
        // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
        if (parts.length != 6 || !parts[1].equals("argon2id") || !parts[2].equals("v=19")) {
            return false;
        }
        try {
            int m = 0;
            int t = 0;
            int p = 0;
            for (String kv : parts[3].split(",")) {
                String[] x = kv.split("=", 2);
                int value = Integer.parseInt(x[1]);
                switch (x[0]) {
                    case "m" -> m = value;
                    case "t" -> t = value;
                    case "p" -> p = value;
                    default -> {
                        return false;
                    }
                }
            }
            if (m < 8 || m > MEMORY_KIB || t < 1 || t > 20 || p < 1 || p > 16) {
                return false;
            }
            byte[] salt = B64D.decode(parts[4]);
            byte[] expected = B64D.decode(parts[5]);
            if (expected.length < 16 || expected.length > 64) {
                return false;
            }
            int mem = m;
            int iterations = t;
            int lanes = p;
            byte[] actual = GATE.run(() -> derive(password, salt, mem, iterations, lanes, expected.length));
            return MessageDigest.isEqual(expected, actual);
        } catch (IllegalArgumentException | ArrayIndexOutOfBoundsException e) {
            return false;
        }
    }

    private static byte[] derive(String password, byte[] salt, int memoryKib, int iterations, int parallelism,
                                 int length) {
        Argon2Parameters params = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
                .withVersion(Argon2Parameters.ARGON2_VERSION_13)
                .withMemoryAsKB(memoryKib)
                .withIterations(iterations)
                .withParallelism(parallelism)
                .withSalt(salt)
                .build();
        Argon2BytesGenerator gen = new Argon2BytesGenerator();
        gen.init(params);
        byte[] out = new byte[length];
        gen.generateBytes(password.getBytes(StandardCharsets.UTF_8), out);
        return out;
    }
}
