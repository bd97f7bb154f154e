package org.carevisor.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PkiTest {
    @TempDir
    Path dir;

    @Test
    void caIssuesVerifiableCertificatesAndIsReloaded() throws Exception {
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, "Test CA");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("ca.key"))))
                .isEqualTo("rw-------");
        KeyPair keys = Keys.generate();
        X509Certificate cert = ca.issue(Keys.request(keys, "ignored"), "host:abc", List.of("10.77.0.11", "lab-1"),
                Duration.ofDays(365));
        cert.verify(ca.certificate().getPublicKey());
        assertThat(Fingerprints.commonName(cert)).isEqualTo("host:abc");
        assertThat(cert.getSubjectAlternativeNames().stream().map(l -> String.valueOf(l.get(1))).toList())
                .contains("10.77.0.11", "lab-1");
        assertThat(cert.getExtendedKeyUsage()).contains("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");

        CertificateAuthority again = CertificateAuthority.loadOrCreate(dir, "Test CA");
        assertThat(again.fingerprint()).isEqualTo(ca.fingerprint()).startsWith("sha256:");

        Tls.Identity id = new Tls.Identity(keys.getPrivate(), cert, ca.certificate());
        Tls.save(dir.resolve("agent"), "agent", id);
        assertThat(Tls.exists(dir.resolve("agent"), "agent")).isTrue();
        assertThat(Tls.load(dir.resolve("agent"), "agent").commonName()).isEqualTo("host:abc");
        SSLContext ctx = Tls.context(id);
        assertThat(ctx.getProtocol()).isEqualTo("TLSv1.3");
    }

    @Test
    void aForgedRequestIsRefused() throws Exception {
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, "Test CA");
        byte[] der = Keys.request(Keys.generate(), "x").getEncoded();
        der[der.length - 3] ^= 0x01; // inside the signature
        assertThatThrownBy(() -> ca.issue(new org.bouncycastle.pkcs.PKCS10CertificationRequest(der), "host:x",
                List.of(), Duration.ofDays(1))).isInstanceOf(PkiException.class).hasMessageContaining("signature");
    }

    @Test
    void pemRefusesTheWrongKindOfObject() throws Exception {
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, "Test CA");
        String certPem = Pem.write(ca.certificate());
        assertThatThrownBy(() -> Pem.request(certPem)).hasMessageContaining("certificate request");
        assertThatThrownBy(() -> Pem.certificate("garbage")).hasMessageContaining("certificate");
    }
}
