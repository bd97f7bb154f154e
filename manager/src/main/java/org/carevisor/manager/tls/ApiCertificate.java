package org.carevisor.manager.tls;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Enumeration;
import java.util.List;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMParser;
import org.carevisor.pki.Fingerprints;
import org.carevisor.pki.Pem;
import org.carevisor.pki.PkiException;

/**
 * The API's TLS identity: a private key and its certificate chain (leaf first), with where it came from.
 * Loading checks what a browser would otherwise refuse later: the key belongs to the leaf, the leaf is valid
 * now and may serve TLS. Immutable.
 *
 * @param source a description for logs and {@code GET /api/v1/tls} ("issued by the Carevisor CA", a file name)
 */
public record ApiCertificate(PrivateKey key, List<X509Certificate> chain, String source) {
    /** Files larger than this are not certificates or keys; refused before they are read. */
    static final long MAX_FILE_BYTES = 1 << 20;
    /** The extended key usage "TLS web server authentication". */
    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

    public ApiCertificate {
        chain = List.copyOf(chain);
    }

    public X509Certificate leaf() {
        return chain.get(0);
    }

    /** SHA-256 fingerprint of the leaf certificate ({@code sha256:<hex>}). */
    public String fingerprint() {
        return Fingerprints.of(leaf());
    }

    /** The DNS names and addresses the leaf certificate is valid for. */
    public List<String> names() {
        List<String> out = new ArrayList<>();
        try {
            Collection<List<?>> sans = leaf().getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    Object type = san.get(0);
                    if (Integer.valueOf(2).equals(type) || Integer.valueOf(7).equals(type)) {
                        out.add(String.valueOf(san.get(1)));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // no readable names: an empty list says so
        }
        return out;
    }

    public Instant notAfter() {
        return leaf().getNotAfter().toInstant();
    }

    /** A key store holding this identity under the alias {@code api}, protected by {@code password}. */
    KeyStore keyStore(char[] password) {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("api", key, password, chain.toArray(X509Certificate[]::new));
            return ks;
        } catch (GeneralSecurityException | IOException e) {
            throw new TlsException("cannot hold the API certificate in a key store: " + e.getMessage(), e);
        }
    }

    /** Reads a PEM certificate chain and a PEM private key (PKCS#8, or a traditional RSA/EC key). */
    public static ApiCertificate fromPem(Path certificateFile, Path keyFile) {
        String chainText = readBounded(certificateFile, "--tls-cert");
        String keyText = readBounded(keyFile, "--tls-key");
        List<X509Certificate> certs = new ArrayList<>();
        try (PEMParser p = new PEMParser(new StringReader(chainText))) {
            for (Object o = p.readObject(); o != null; o = p.readObject()) {
                if (!(o instanceof X509CertificateHolder h)) {
                    throw new TlsException("--tls-cert " + certificateFile + " holds a " + o.getClass().getSimpleName()
                            + " besides certificates; it must hold only the certificate chain (PEM, leaf first)");
                }
                certs.add(new JcaX509CertificateConverter().getCertificate(h));
            }
        } catch (IOException | java.security.cert.CertificateException e) {
            throw new TlsException("--tls-cert " + certificateFile + " is not a readable PEM certificate chain: "
                    + e.getMessage(), e);
        }
        if (certs.isEmpty()) {
            throw new TlsException("--tls-cert " + certificateFile + " holds no PEM certificate");
        }
        PrivateKey key;
        try {
            key = Pem.privateKey(keyText);
        } catch (PkiException e) {
            throw new TlsException("--tls-key " + keyFile + " is not a readable unencrypted PEM private key ("
                    + e.getMessage() + "); an encrypted key must be decrypted first, e.g. openssl pkey -in KEY -out"
                    + " KEY.plain, and kept readable only by the manager's user", e);
        }
        return checked(key, certs, certificateFile.getFileName().toString());
    }

    /** Reads a PKCS#12 file with one private key and its chain. */
    public static ApiCertificate fromPkcs12(Path file, String password) {
        readBounded(file, "--tls-keystore");
        try (var in = Files.newInputStream(file)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            char[] pw = password == null ? new char[0] : password.toCharArray();
            ks.load(in, pw);
            for (Enumeration<String> aliases = ks.aliases(); aliases.hasMoreElements(); ) {
                String alias = aliases.nextElement();
                if (ks.isKeyEntry(alias)) {
                    PrivateKey key = (PrivateKey) ks.getKey(alias, pw);
                    List<X509Certificate> certs = new ArrayList<>();
                    for (Certificate c : ks.getCertificateChain(alias)) {
                        certs.add((X509Certificate) c);
                    }
                    return checked(key, certs, file.getFileName().toString());
                }
            }
            throw new TlsException("--tls-keystore " + file + " holds no private key entry");
        } catch (IOException e) {
            throw new TlsException("--tls-keystore " + file + " cannot be read (" + e.getMessage() + "); a wrong"
                    + " password shows this way too: check CAREVISOR_MANAGER_TLS_KEYSTORE_PASSWORD", e);
        } catch (GeneralSecurityException e) {
            throw new TlsException("--tls-keystore " + file + " is not a usable PKCS#12 file: " + e.getMessage(), e);
        }
    }

    /** Puts the leaf (the certificate of {@code key}) first and checks that it can serve TLS now. */
    static ApiCertificate checked(PrivateKey key, List<X509Certificate> certs, String source) {
        X509Certificate leaf = null;
        for (X509Certificate c : certs) {
            if (belongsTo(key, c)) {
                leaf = c;
                break;
            }
        }
        if (leaf == null) {
            throw new TlsException("the private key does not belong to any certificate of " + source
                    + "; give the key that was used for the certificate request");
        }
        List<X509Certificate> chain = new ArrayList<>();
        chain.add(leaf);
        for (X509Certificate c : certs) {
            if (c != leaf) {
                chain.add(c);
            }
        }
        Instant now = Instant.now();
        if (leaf.getNotAfter().toInstant().isBefore(now)) {
            throw new TlsException("the certificate in " + source + " (" + leaf.getSubjectX500Principal().getName()
                    + ") expired at " + leaf.getNotAfter().toInstant() + "; install a renewed one");
        }
        if (leaf.getNotBefore().toInstant().isAfter(now)) {
            throw new TlsException("the certificate in " + source + " is valid only from "
                    + leaf.getNotBefore().toInstant() + "; check this machine's clock");
        }
        try {
            List<String> eku = leaf.getExtendedKeyUsage();
            if (eku != null && !eku.contains(SERVER_AUTH)) {
                throw new TlsException("the certificate in " + source + " may not serve TLS: its extended key"
                        + " usage lacks serverAuth (TLS web server authentication)");
            }
        } catch (CertificateParsingException e) {
            throw new TlsException("the certificate in " + source + " has an unreadable extended key usage", e);
        }
        return new ApiCertificate(key, chain, source);
    }

    /** True when {@code key} made {@code cert}: a signature by the key verifies with the certificate. */
    private static boolean belongsTo(PrivateKey key, X509Certificate cert) {
        String alg = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "Ed25519" -> "Ed25519";
            default -> null;
        };
        if (alg == null || !cert.getPublicKey().getAlgorithm().equals(key.getAlgorithm())) {
            return false;
        }
        try {
            byte[] probe = new byte[32];
            new SecureRandom().nextBytes(probe);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            return v.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private static String readBounded(Path file, String option) {
        try {
            if (!Files.isRegularFile(file)) {
                throw new TlsException(option + " " + file + " does not exist or is not a file");
            }
            if (Files.size(file) > MAX_FILE_BYTES) {
                throw new TlsException(option + " " + file + " is larger than 1 MiB; it is not a certificate or key");
            }
            return new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new TlsException(option + " " + file + " cannot be read: " + e.getMessage(), e);
        }
    }
}
