package org.carevisor.pki;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
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
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

/**
 * The manager's own certificate authority: a self-signed CA whose key never leaves the manager's data
 * directory (mode 0600), issuing the certificates of the manager and of every enrolled host. Thread-safe.
 */
public final class CertificateAuthority {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Duration CA_VALIDITY = Duration.ofDays(3650);

    private final X509Certificate certificate;
    private final PrivateKey key;

    private CertificateAuthority(X509Certificate certificate, PrivateKey key) {
        this.certificate = certificate;
        this.key = key;
    }

    /** Loads the CA from {@code dir} (ca.crt, ca.key) or creates a new one there. */
    public static CertificateAuthority loadOrCreate(Path dir, String name) throws IOException {
        return loadOrCreate(dir, name, "ca");
    }

    /** Loads the CA from {@code dir} ({@code <base>.crt}, {@code <base>.key}) or creates a new one there. */
    public static CertificateAuthority loadOrCreate(Path dir, String name, String base) throws IOException {
        Path crt = dir.resolve(base + ".crt");
        Path keyFile = dir.resolve(base + ".key");
        if (Files.exists(crt) && Files.exists(keyFile)) {
            return new CertificateAuthority(Pem.certificate(Files.readString(crt)), Pem.privateKey(Files.readString(keyFile)));
        }
        KeyPair keys = Keys.generate();
        X500Name subject = new X500Name("CN=" + name + ",O=Carevisor");
        Instant now = Instant.now();
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(),
                    Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(CA_VALIDITY)), subject, keys.getPublic());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            X509Certificate cert = new JcaX509CertificateConverter().getCertificate(b.build(signer(keys.getPrivate())));
            Pem.writePrivateKey(keyFile, keys);
            Pem.writePublic(crt, Pem.write(cert));
            return new CertificateAuthority(cert, keys.getPrivate());
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new PkiException("ca-create", "cannot create the certificate authority: " + e.getMessage(), e);
        }
    }

    public X509Certificate certificate() {
        return certificate;
    }

    /** SHA-256 of the CA certificate, as {@code sha256:<hex>}; agents pin it when they enroll. */
    public String fingerprint() {
        return Fingerprints.of(certificate);
    }

    /**
     * Issues a certificate for TLS server and client use (agents and the manager are both) for the key in
     * {@code request}, after checking the request's own signature.
     *
     * @param commonName subject CN, e.g. {@code host:<id>} or {@code manager}
     * @param names      DNS names and IP addresses for the subject alternative names
     */
    public X509Certificate issue(PKCS10CertificationRequest request, String commonName, List<String> names,
                                 Duration validity) {
        try {
            JcaPKCS10CertificationRequest req = new JcaPKCS10CertificationRequest(request);
            if (!req.isSignatureValid(new JcaContentVerifierProviderBuilder().build(req.getPublicKey()))) {
                throw new PkiException("csr-invalid", "the certificate request's signature is not valid");
            }
            return issue(req.getPublicKey(), commonName, names, validity);
        } catch (PkiException e) {
            throw e;
        } catch (Exception e) {
            throw new PkiException("csr-invalid", "cannot read the certificate request: " + e.getMessage(), e);
        }
    }

    /** Issues a certificate for a public key (used for the manager's own key pair). */
    public X509Certificate issue(PublicKey publicKey, String commonName, List<String> names, Duration validity) {
        Instant now = Instant.now();
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(certificate, serial(),
                    Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(validity)),
                    new X500Name("CN=" + commonName + ",O=Carevisor"), publicKey);
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(new KeyPurposeId[] {
                KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
            if (!names.isEmpty()) {
                GeneralName[] san = names.stream().map(CertificateAuthority::generalName).toArray(GeneralName[]::new);
                b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(san));
            }
            return new JcaX509CertificateConverter().getCertificate(b.build(signer(key)));
        } catch (Exception e) {
            throw new PkiException("issue-failed", "cannot issue a certificate for " + commonName + ": " + e.getMessage(), e);
        }
    }

    private static GeneralName generalName(String name) {
        return name.matches("[0-9.]+") || name.contains(":")
                ? new GeneralName(GeneralName.iPAddress, name) : new GeneralName(GeneralName.dNSName, name);
    }

    private static BigInteger serial() {
        return new BigInteger(127, RANDOM).add(BigInteger.ONE);
    }

    private static ContentSigner signer(PrivateKey key) throws Exception {
        return new JcaContentSignerBuilder("SHA256withECDSA").build(key);
    }
}
