package org.carevisor.pki;

import java.security.MessageDigest;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;

/** SHA-256 fingerprints of certificates, written {@code sha256:<hex>}. */
public final class Fingerprints {
    private Fingerprints() {
    }

    public static String of(X509Certificate cert) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
        } catch (CertificateEncodingException | java.security.NoSuchAlgorithmException e) {
            throw new PkiException("fingerprint", "cannot hash a certificate: " + e.getMessage(), e);
        }
    }

    /** The common name (CN) of a certificate's subject. */
    public static String commonName(X509Certificate cert) {
        String dn = cert.getSubjectX500Principal().getName();
        for (String part : dn.split(",")) {
            String p = part.strip();
            if (p.startsWith("CN=")) {
                return p.substring(3);
            }
        }
        return "";
    }
}
