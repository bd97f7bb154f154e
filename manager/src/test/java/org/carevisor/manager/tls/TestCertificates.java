package org.carevisor.manager.tls;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.carevisor.pki.Pem;

/**
 * A small "hospital" certificate authority for tests of operator-supplied API certificates: RSA keys (what
 * hospital PKIs mostly issue), any validity window and extended key usage.
 */
final class TestCertificates {
    final KeyPair caKeys = rsa();
    final X509Certificate ca;

    TestCertificates(String name) {
        Instant now = Instant.now();
        try {
            X500Name subject = new X500Name("CN=" + name + ",O=Klinikum Test");
            JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, BigInteger.valueOf(now.toEpochMilli()),
                    Date.from(now.minus(Duration.ofDays(1))), Date.from(now.plus(Duration.ofDays(3650))), subject,
                    caKeys.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            ca = new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder("SHA256withRSA").build(caKeys.getPrivate())));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static KeyPair rsa() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(2048);
            return g.generateKeyPair();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A server certificate for {@code names}, valid from {@code from} to {@code to}, with {@code purpose}. */
    X509Certificate leaf(KeyPair keys, List<String> names, Instant from, Instant to, KeyPurposeId purpose) {
        try {
            JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(ca, BigInteger.valueOf(System.nanoTime()),
                    Date.from(from), Date.from(to), new X500Name("CN=" + names.get(0) + ",O=Klinikum Test"),
                    keys.getPublic());
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose));
            b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names.stream()
                    .map(n -> n.matches("[0-9.]+") ? new GeneralName(GeneralName.iPAddress, n)
                            : new GeneralName(GeneralName.dNSName, n)).toArray(GeneralName[]::new)));
            return new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder("SHA256withRSA").build(caKeys.getPrivate())));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    X509Certificate validLeaf(KeyPair keys) {
        return leaf(keys, List.of("localhost", "127.0.0.1"), Instant.now().minus(Duration.ofHours(1)),
                Instant.now().plus(Duration.ofDays(90)), KeyPurposeId.id_kp_serverAuth);
    }

    /** Writes the chain (leaf, CA) and the key as PEM files, replacing what is there. */
    void writePem(Path cert, Path key, X509Certificate leaf, KeyPair keys) throws IOException {
        Files.writeString(cert, Pem.write(leaf) + Pem.write(ca));
        Files.writeString(key, Pem.write(keys.getPrivate()));
    }

    /** Writes a PKCS#12 file with the key and chain under {@code password}. */
    void writePkcs12(Path file, X509Certificate leaf, KeyPair keys, String password) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("server", keys.getPrivate(), password.toCharArray(), new X509Certificate[] {leaf, ca});
        try (var out = Files.newOutputStream(file)) {
            ks.store(out, password.toCharArray());
        }
    }

    /** The CA as a PEM file (what a client trusts). */
    Path writeCa(Path file) throws IOException {
        Files.writeString(file, Pem.write(ca));
        return file;
    }
}
