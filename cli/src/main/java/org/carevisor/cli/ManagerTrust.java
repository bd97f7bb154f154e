package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Which certificates the CLI accepts from the manager's HTTPS API: the JDK's and Debian's public CAs, the CA
 * file given with {@code --ca} (or $CAREVISOR_CA), the manager's own CA when the CLI runs beside the manager
 * ({@code var/manager/pki/api-ca.crt}), and certificates the user trusted on first use ({@code known-managers}
 * beside the session file, one per manager URL). Host names are always checked. When the manager's chain
 * is not trusted, the chain it presented is kept so the CLI can show its fingerprint and offer to trust it.
 * Not thread-safe (one per command).
 */
final class ManagerTrust {
    /** Debian's bundle of public CAs, and where an operator's hospital CA ends up after update-ca-certificates. */
    static final Path SYSTEM_BUNDLE = Path.of("/etc/ssl/certs/ca-certificates.crt");

    private final List<Path> caFiles;
    private final Path knownFile;
    private final String url;
    private HttpClient client;
    private X509Certificate[] presented;
    private String failure;

    /**
     * @param caFiles   CA certificate files (PEM, one or more certificates each) to trust; missing ones are skipped
     *                  unless they were named explicitly (checked by the caller)
     * @param knownFile the user's trusted-on-first-use certificates
     * @param url       the manager URL (pins are per URL)
     */
    ManagerTrust(List<Path> caFiles, Path knownFile, String url) {
        this.caFiles = List.copyOf(caFiles);
        this.knownFile = knownFile;
        this.url = normalize(url);
    }

    /** The CA files this trust takes besides the public CAs (for tests and diagnostics). */
    List<Path> caFiles() {
        return caFiles;
    }

    /** The HTTP client to use (rebuilt after {@link #pin}). */
    HttpClient client() {
        if (client == null) {
            client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).sslContext(context()).build();
        }
        return client;
    }

    /** The chain the manager presented in the last refused handshake (leaf first), or null. */
    X509Certificate[] presented() {
        return presented;
    }

    /** Why the last presented chain was refused (the JDK's words), or null. */
    String failure() {
        return failure;
    }

    /** True when the last refusal was about the host name, not about trust in the issuer. */
    boolean nameMismatch() {
        return failure != null && (failure.contains("No subject alternative")
                || failure.contains("No name matching") || failure.contains("subject alternative name"));
    }

    /** The certificate a user would trust for this manager: the top of the chain it presented (its CA). */
    X509Certificate anchor() {
        return presented == null ? null : presented[presented.length - 1];
    }

    /** Trusts {@code cert} for this manager URL from now on (kept in the known-managers file, mode 0600). */
    void pin(X509Certificate cert) {
        try {
            ObjectNode all = readKnown();
            ObjectNode entry = all.putObject(url);
            entry.put("fingerprint", fingerprint(cert));
            entry.put("subject", cert.getSubjectX500Principal().getName());
            entry.put("trustedAt", Instant.now().toString());
            entry.put("certificate", pem(cert));
            Path dir = knownFile.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, ".known-managers-", ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tmp, ApiClient.json().writerWithDefaultPrettyPrinter().writeValueAsString(all));
            Files.move(tmp, knownFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new CliException(ExitCodes.ERROR, "cannot write " + knownFile + ": " + e.getMessage());
        }
        client = null;
    }

    /** The fingerprint this manager URL was trusted with on first use, or null. */
    String knownFingerprint() {
        JsonNode n = readKnown().path(url);
        return n.isMissingNode() ? null : n.path("fingerprint").asText(null);
    }

    private SSLContext context() {
        try {
            List<X509ExtendedTrustManager> managers = new ArrayList<>();
            TrustManagerFactory jdk = TrustManagerFactory.getInstance("PKIX");
            jdk.init((KeyStore) null);
            managers.add(extended(jdk.getTrustManagers()));
            KeyStore extra = KeyStore.getInstance("PKCS12");
            extra.load(null, null);
            int n = 0;
            List<Path> files = new ArrayList<>(caFiles);
            files.add(SYSTEM_BUNDLE);
            for (Path f : files) {
                for (X509Certificate c : readCertificates(f)) {
                    extra.setCertificateEntry("ca-" + n++, c);
                }
            }
            JsonNode known = readKnown().path(url);
            if (known.hasNonNull("certificate")) {
                for (X509Certificate c : parse(known.path("certificate").asText().getBytes(StandardCharsets.US_ASCII))) {
                    extra.setCertificateEntry("known-" + n++, c);
                }
            }
            if (n > 0) {
                TrustManagerFactory own = TrustManagerFactory.getInstance("PKIX");
                own.init(extra);
                managers.add(extended(own.getTrustManagers()));
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, new TrustManager[] {new Recording(managers)}, null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new CliException(ExitCodes.ERROR, "cannot set up certificate checks: " + e.getMessage());
        }
    }

    private static List<X509Certificate> readCertificates(Path file) {
        if (!Files.isRegularFile(file)) {
            return List.of();
        }
        try {
            return parse(Files.readAllBytes(file));
        } catch (IOException | CertificateException e) {
            throw new CliException(ExitCodes.ERROR, "cannot read the CA certificate file " + file + ": " + e.getMessage());
        }
    }

    private static List<X509Certificate> parse(byte[] pem) throws CertificateException {
        Collection<? extends java.security.cert.Certificate> certs = CertificateFactory.getInstance("X.509")
                .generateCertificates(new ByteArrayInputStream(pem));
        List<X509Certificate> out = new ArrayList<>();
        for (var c : certs) {
            out.add((X509Certificate) c);
        }
        return out;
    }

    private ObjectNode readKnown() {
        try {
            if (Files.isRegularFile(knownFile)) {
                try (InputStream in = Files.newInputStream(knownFile)) {
                    JsonNode n = ApiClient.json().readTree(in);
                    if (n instanceof ObjectNode o) {
                        return o;
                    }
                }
            }
        } catch (IOException e) {
            throw new CliException(ExitCodes.ERROR, "cannot read " + knownFile + " (" + e.getMessage()
                    + "); remove it to trust managers anew");
        }
        return ApiClient.json().createObjectNode();
    }

    private static X509ExtendedTrustManager extended(TrustManager[] tms) {
        for (TrustManager tm : tms) {
            if (tm instanceof X509ExtendedTrustManager x) {
                return x;
            }
        }
        throw new IllegalStateException("no X.509 trust manager");
    }

    /** SHA-256 fingerprint as the manager prints it: {@code sha256:<hex>}. */
    static String fingerprint(X509Certificate cert) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    static String pem(X509Certificate cert) {
        try {
            return "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                    .encodeToString(cert.getEncoded()) + "\n-----END CERTIFICATE-----\n";
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    static String normalize(String url) {
        return url == null ? "" : url.strip().replaceAll("/+$", "");
    }

    /**
     * Accepts a server chain when any delegate does (each checks the host name itself), and remembers a refused
     * chain and the reason.
     */
    private final class Recording extends X509ExtendedTrustManager {
        private final List<X509ExtendedTrustManager> delegates;

        Recording(List<X509ExtendedTrustManager> delegates) {
            this.delegates = delegates;
        }

        private interface Check {
            void run(X509ExtendedTrustManager tm) throws CertificateException;
        }

        private void check(X509Certificate[] chain, Check c) throws CertificateException {
            CertificateException first = null;
            for (X509ExtendedTrustManager tm : delegates) {
                try {
                    c.run(tm);
                    presented = null;
                    failure = null;
                    return;
                } catch (CertificateException e) {
                    // a name mismatch is the more useful reason to show than "not trusted"
                    if (first == null || String.valueOf(e.getMessage()).contains("alternative")
                            || String.valueOf(e.getMessage()).contains("name matching")) {
                        first = e;
                    }
                }
            }
            presented = chain == null ? null : chain.clone();
            failure = first == null ? "no trust anchors" : String.valueOf(first.getMessage());
            throw first == null ? new CertificateException("no trust anchors") : first;
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            check(chain, tm -> tm.checkServerTrusted(chain, authType, engine));
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            check(chain, tm -> tm.checkServerTrusted(chain, authType, socket));
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            check(chain, tm -> tm.checkServerTrusted(chain, authType));
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("the CLI is only a client");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("the CLI is only a client");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("the CLI is only a client");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            List<X509Certificate> all = new ArrayList<>();
            for (X509TrustManager tm : delegates) {
                all.addAll(List.of(tm.getAcceptedIssuers()));
            }
            return all.toArray(X509Certificate[]::new);
        }
    }
}
