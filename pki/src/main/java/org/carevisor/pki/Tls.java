package org.carevisor.pki;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * TLS contexts for Carevisor's mutual TLS: each side presents its certificate issued by the manager's CA
 * and trusts only that CA. Thread-safe (stateless).
 */
public final class Tls {
    private static final char[] NO_PASSWORD = new char[0];

    private Tls() {
    }

    /** A TLS identity: private key, its certificate, and the CA that issued it (the only trusted root). */
    public record Identity(PrivateKey key, X509Certificate certificate, X509Certificate ca) {
        /** The CN of this identity's certificate, e.g. {@code manager} or {@code host:<id>}. */
        public String commonName() {
            return Fingerprints.commonName(certificate);
        }
    }

    /** Reads {@code <name>.key}, {@code <name>.crt} and {@code ca.crt} from {@code dir}. */
    public static Identity load(Path dir, String name) throws IOException {
        return new Identity(Pem.privateKey(Files.readString(dir.resolve(name + ".key"))),
                Pem.certificate(Files.readString(dir.resolve(name + ".crt"))),
                Pem.certificate(Files.readString(dir.resolve("ca.crt"))));
    }

    /** True when {@code dir} holds a complete identity called {@code name}. */
    public static boolean exists(Path dir, String name) {
        return Files.isRegularFile(dir.resolve(name + ".key")) && Files.isRegularFile(dir.resolve(name + ".crt"))
                && Files.isRegularFile(dir.resolve("ca.crt"));
    }

    /** Writes an identity (the key with mode 0600). */
    public static void save(Path dir, String name, Identity id) throws IOException {
        Pem.writeSecret(dir.resolve(name + ".key"), Pem.write(id.key()));
        Pem.writePublic(dir.resolve(name + ".crt"), Pem.write(id.certificate()));
        Pem.writePublic(dir.resolve("ca.crt"), Pem.write(id.ca()));
    }

    /** A context that presents {@code id} and trusts only its CA (for both servers and clients). */
    public static SSLContext context(Identity id) {
        try {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("identity", id.key(), NO_PASSWORD, new X509Certificate[] {id.certificate(), id.ca()});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, NO_PASSWORD);
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(kmf.getKeyManagers(), trustOnly(id.ca()), null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new PkiException("tls-context", "cannot build a TLS context: " + e.getMessage(), e);
        }
    }

    /**
     * A client context that presents {@code id}, trusts only its CA and accepts a server only when its certificate's
     * common name is {@code serverCommonName} (an agent talking to the manager: a host certificate of the same CA,
     * whatever its names, is not the manager). Host names are still verified as usual.
     */
    public static SSLContext context(Identity id, String serverCommonName) {
        return context(id, (leaf, peerHost) -> {
            String actual = Fingerprints.commonName(leaf);
            if (!serverCommonName.equals(actual)) {
                throw new CertificateException("the server's certificate is for '" + actual + "', not '"
                        + serverCommonName + "'");
            }
        });
    }

    /** What a client additionally demands of a server's certificate, after its chain and host name were checked. */
    @FunctionalInterface
    public interface ServerCheck {
        /** Throws when {@code leaf}, presented by the server at {@code peerHost} (may be null), is not acceptable. */
        void check(X509Certificate leaf, String peerHost) throws CertificateException;
    }

    /**
     * A client context that presents {@code id}, trusts only its CA, verifies host names as usual, and then accepts a
     * server only when {@code check} does (the manager calling an agent: the certificate must be the current one of
     * the host registered at that address).
     */
    public static SSLContext context(Identity id, ServerCheck check) {
        try {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("identity", id.key(), NO_PASSWORD, new X509Certificate[] {id.certificate(), id.ca()});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, NO_PASSWORD);
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(kmf.getKeyManagers(), new TrustManager[] {requiring((X509ExtendedTrustManager) trustOnly(
                    id.ca())[0], check)}, null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new PkiException("tls-context", "cannot build a TLS context: " + e.getMessage(), e);
        }
    }

    /** {@code base}, and then {@code check} on the server's certificate. */
    private static X509ExtendedTrustManager requiring(X509ExtendedTrustManager base, ServerCheck check) {
        return new X509ExtendedTrustManager() {
            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, java.net.Socket socket)
                    throws CertificateException {
                base.checkServerTrusted(chain, authType, socket);
                String host = socket instanceof javax.net.ssl.SSLSocket ssl && ssl.getHandshakeSession() != null
                        ? ssl.getHandshakeSession().getPeerHost() : null;
                check.check(chain[0], host);
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine engine)
                    throws CertificateException {
                base.checkServerTrusted(chain, authType, engine);
                check.check(chain[0], engine == null ? null : engine.getPeerHost());
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                base.checkServerTrusted(chain, authType);
                check.check(chain[0], null);
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, java.net.Socket socket)
                    throws CertificateException {
                throw new CertificateException("this context only connects to servers");
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine engine)
                    throws CertificateException {
                throw new CertificateException("this context only connects to servers");
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                throw new CertificateException("this context only connects to servers");
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return base.getAcceptedIssuers();
            }
        };
    }

    /** A client context that trusts only servers whose chain ends at {@code caPem} (one PEM certificate). */
    public static SSLContext trusting(String caPem) {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, trustOnly(Pem.certificate(caPem)), null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new PkiException("tls-context", "cannot build a TLS context for the CA certificate: "
                    + e.getMessage(), e);
        }
    }

    /** Trust managers that accept only chains issued by {@code ca}. */
    public static TrustManager[] trustOnly(X509Certificate ca) throws GeneralSecurityException, IOException {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("carevisor-ca", ca);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(trust);
        return tmf.getTrustManagers();
    }

    /**
     * A client context for enrollment: it has no certificate yet, and trusts a server only when the CA at the
     * end of the server's chain has the pinned fingerprint (given to the operator with the join token) and
     * really signed the server's certificate.
     */
    public static SSLContext pinned(String caFingerprint) {
        return pinned(caFingerprint, null);
    }

    /**
     * Like {@link #pinned(String)}, and the server's certificate must have common name {@code serverCommonName}
     * (null: any): an agent enrolling accepts only the manager's certificate, not another host's of the same CA.
     */
    public static SSLContext pinned(String caFingerprint, String serverCommonName) {
        X509TrustManager tm = new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                throw new CertificateException("this context only connects to servers");
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                if (chain == null || chain.length < 2) {
                    throw new CertificateException("the server sent no CA certificate to check against the fingerprint");
                }
                X509Certificate ca = chain[chain.length - 1];
                String actual = Fingerprints.of(ca);
                if (!actual.equalsIgnoreCase(caFingerprint)) {
                    throw new CertificateException("the manager's CA has fingerprint " + actual + ", not the expected "
                            + caFingerprint + "; refusing to enroll");
                }
                try {
                    chain[0].checkValidity();
                    chain[0].verify(ca.getPublicKey());
                } catch (GeneralSecurityException e) {
                    throw new CertificateException("the manager's certificate is not valid under the pinned CA: "
                            + e.getMessage(), e);
                }
                if (serverCommonName != null && !serverCommonName.equals(Fingerprints.commonName(chain[0]))) {
                    throw new CertificateException("the server's certificate is for '"
                            + Fingerprints.commonName(chain[0]) + "', not '" + serverCommonName + "'; refusing to"
                            + " enroll");
                }
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        try {
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(null, new TrustManager[] {tm}, null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new PkiException("tls-context", "cannot build a TLS context: " + e.getMessage(), e);
        }
    }
}
