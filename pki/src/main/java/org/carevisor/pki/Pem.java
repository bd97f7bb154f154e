package org.carevisor.pki;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/** PEM text for certificates, private keys and certificate requests. Thread-safe (stateless). */
public final class Pem {
    private Pem() {
    }

    /** PEM text of a certificate, certificate request or private key (keys as PKCS#8). */
    public static String write(Object object) {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(out)) {
            if (object instanceof PrivateKey key) {
                w.writeObject(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(key, null));
            } else {
                w.writeObject(object);
            }
        } catch (IOException e) {
            throw new PkiException("pem-write", "cannot write PEM: " + e.getMessage(), e);
        }
        return out.toString();
    }

    /**
     * PEM text (PKCS#8) of an EC private key that also carries its public key and curve inside the key structure,
     * as GnuTLS (QEMU's TLS library) requires; Java's own encoding leaves both out.
     */
    public static String writeForGnutls(PrivateKey key, java.security.PublicKey publicKey) {
        try {
            PrivateKeyInfo info = PrivateKeyInfo.getInstance(key.getEncoded());
            org.bouncycastle.asn1.sec.ECPrivateKey inner = org.bouncycastle.asn1.sec.ECPrivateKey.getInstance(
                    info.parsePrivateKey());
            org.bouncycastle.asn1.x509.SubjectPublicKeyInfo pub = org.bouncycastle.asn1.x509.SubjectPublicKeyInfo
                    .getInstance(publicKey.getEncoded());
            org.bouncycastle.asn1.ASN1Encodable curve = info.getPrivateKeyAlgorithm().getParameters();
            org.bouncycastle.asn1.sec.ECPrivateKey full = new org.bouncycastle.asn1.sec.ECPrivateKey(
                    inner.getKey().bitLength() <= 256 ? 256 : inner.getKey().bitLength(), inner.getKey(),
                    pub.getPublicKeyData(), curve);
            PrivateKeyInfo out = new PrivateKeyInfo(info.getPrivateKeyAlgorithm(), full);
            StringWriter text = new StringWriter();
            try (org.bouncycastle.util.io.pem.PemWriter w = new org.bouncycastle.util.io.pem.PemWriter(text)) {
                w.writeObject(new org.bouncycastle.util.io.pem.PemObject("PRIVATE KEY", out.getEncoded()));
            }
            return text.toString();
        } catch (IOException | RuntimeException e) {
            throw new PkiException("pem-write", "cannot write the EC key for GnuTLS: " + e.getMessage(), e);
        }
    }

    public static X509Certificate certificate(String pem) {
        Object o = read(pem, "certificate");
        if (!(o instanceof X509CertificateHolder h)) {
            throw new PkiException("pem-invalid", "expected a PEM certificate, found " + describe(o));
        }
        try {
            return new JcaX509CertificateConverter().getCertificate(h);
        } catch (CertificateException e) {
            throw new PkiException("pem-invalid", "unreadable certificate: " + e.getMessage(), e);
        }
    }

    public static PKCS10CertificationRequest request(String pem) {
        Object o = read(pem, "certificate request");
        if (!(o instanceof PKCS10CertificationRequest r)) {
            throw new PkiException("pem-invalid", "expected a PEM certificate request, found " + describe(o));
        }
        return r;
    }

    public static PrivateKey privateKey(String pem) {
        Object o = read(pem, "private key");
        try {
            JcaPEMKeyConverter c = new JcaPEMKeyConverter();
            if (o instanceof PEMKeyPair kp) {
                return c.getKeyPair(kp).getPrivate();
            }
            if (o instanceof PrivateKeyInfo info) {
                return c.getPrivateKey(info);
            }
        } catch (IOException e) {
            throw new PkiException("pem-invalid", "unreadable private key: " + e.getMessage(), e);
        }
        throw new PkiException("pem-invalid", "expected a PEM private key, found " + describe(o));
    }

    /** A public key from PEM text ({@code -----BEGIN PUBLIC KEY-----}, SubjectPublicKeyInfo). */
    public static java.security.PublicKey publicKey(String pem) {
        Object o = read(pem, "public key");
        if (!(o instanceof org.bouncycastle.asn1.x509.SubjectPublicKeyInfo info)) {
            throw new PkiException("pem-invalid", "expected a PEM public key, found " + describe(o));
        }
        try {
            return new JcaPEMKeyConverter().getPublicKey(info);
        } catch (IOException e) {
            throw new PkiException("pem-invalid", "unreadable public key: " + e.getMessage(), e);
        }
    }

    /** Writes a private key readable only by its owner (mode 0600), atomically. */
    public static void writePrivateKey(Path file, KeyPair keys) throws IOException {
        writeSecret(file, write(keys.getPrivate()));
    }

    /**
     * Writes text readable only by its owner (mode 0600), atomically; a missing parent directory is created
     * accessible only by its owner (0700).
     */
    public static void writeSecret(Path file, String text) throws IOException {
        if (!Files.isDirectory(file.getParent())) {
            Files.createDirectories(file.getParent(),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, text, StandardCharsets.US_ASCII);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Writes public text (certificates), atomically. */
    public static void writePublic(Path file, String text) throws IOException {
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, text, StandardCharsets.US_ASCII);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static Object read(String pem, String what) {
        try (PEMParser p = new PEMParser(new StringReader(pem == null ? "" : pem))) {
            Object o = p.readObject();
            if (o == null) {
                throw new PkiException("pem-invalid", "no PEM " + what + " found");
            }
            return o;
        } catch (IOException e) {
            throw new PkiException("pem-invalid", "unreadable PEM " + what + ": " + e.getMessage(), e);
        }
    }

    private static String describe(Object o) {
        return o == null ? "nothing" : o.getClass().getSimpleName();
    }
}
