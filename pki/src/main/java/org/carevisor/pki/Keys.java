package org.carevisor.pki;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/** Key pairs (EC P-256) and certificate requests. Thread-safe (stateless). */
public final class Keys {
    private Keys() {
    }

    public static KeyPair generate() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new PkiException("keygen", "cannot generate an EC key pair: " + e.getMessage(), e);
        }
    }

    /** A certificate request for {@code keys}, signed with them (the CA sets the real subject and names). */
    public static PKCS10CertificationRequest request(KeyPair keys, String commonName) {
        try {
            return new JcaPKCS10CertificationRequestBuilder(new X500Principal("CN=" + commonName), keys.getPublic())
                    .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate()));
        } catch (Exception e) {
            throw new PkiException("csr", "cannot build a certificate request: " + e.getMessage(), e);
        }
    }
}
