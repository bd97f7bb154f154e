package org.carevisor.manager.tls;

import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Keys;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS side of the API server: which certificate it presents, the protocols and cipher suites it accepts
 * (TLS 1.3 and 1.2 with forward-secret AEAD suites only, Mozilla's "intermediate" profile), and replacing the
 * certificate while the server runs. An operator's files are checked every {@link #POLL} and a changed, valid
 * pair is served from the next handshake on; a changed but unusable pair is refused and the old one stays. A
 * certificate issued by the manager's CA is renewed before it expires. Thread-safe.
 */
public final class ApiTls {
    private static final Logger LOG = LoggerFactory.getLogger(ApiTls.class);
    /** How often the operator's certificate files are looked at. */
    public static final Duration POLL = Duration.ofSeconds(5);
    /** Validity of a certificate the manager's CA issues for the API. */
    static final Duration ISSUED_VALIDITY = Duration.ofDays(397);
    /** An issued certificate is renewed when less than this is left. */
    static final Duration RENEW_BEFORE = Duration.ofDays(30);
    /** Common name of the certificate the manager's CA issues for the API (never "manager", the agents' peer). */
    public static final String API_CN = "carevisor-api";

    static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};
    static final String[] CIPHER_SUITES = {
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"};

    /** What happened to the certificate, for the audit trail. */
    public record Change(boolean success, String source, String oldFingerprint, String newFingerprint,
                         String detail) {
    }

    private final ApiTlsSettings settings;
    private final CertificateAuthority ca;
    private final List<String> issuedNames;
    private final Consumer<Change> onChange;
    private final Clock clock;
    private final SslContextFactory.Server factory = new SslContextFactory.Server();
    private final char[] storePassword = randomPassword();
    private volatile ApiCertificate current;
    private volatile String filesDigest;
    private volatile String refusedDigest;

    private ApiTls(ApiTlsSettings settings, CertificateAuthority ca, List<String> issuedNames,
                   Consumer<Change> onChange, Clock clock) {
        this.settings = settings;
        this.ca = ca;
        this.issuedNames = issuedNames;
        this.onChange = onChange;
        this.clock = clock;
        factory.setIncludeProtocols(PROTOCOLS);
        factory.setIncludeCipherSuites(CIPHER_SUITES);
        factory.setRenegotiationAllowed(false);
        factory.setSniRequired(false);
        factory.setKeyStoreType("PKCS12");
    }

    /**
     * The TLS setup for {@code settings}: loads the operator's certificate or has {@code ca} issue one for the
     * listen address and public names. Throws {@link TlsException} naming the file when it cannot be used.
     */
    public static ApiTls open(ApiTlsSettings settings, String listenAddress, CertificateAuthority ca,
                              Consumer<Change> onChange) {
        if (settings.plainHttp()) {
            throw new IllegalArgumentException("plain HTTP has no TLS setup");
        }
        ApiTls tls = new ApiTls(settings, ca, issuedNames(listenAddress, settings.publicNames()), onChange,
                Clock.systemUTC());
        tls.install(tls.load());
        tls.filesDigest = tls.digestOfFiles();
        return tls;
    }

    /** The Jetty factory the HTTPS connector uses; its key store is replaced on reload. */
    public SslContextFactory.Server factory() {
        return factory;
    }

    public ApiCertificate current() {
        return current;
    }

    public ApiTlsSettings settings() {
        return settings;
    }

    /**
     * Looks at the certificate files (or the issued certificate's expiry) and replaces the served certificate
     * when they changed and are usable. Called every {@link #POLL}; returns true when it replaced it.
     */
    public boolean check() {
        if (settings.issued()) {
            if (Duration.between(clock.instant(), current.notAfter()).compareTo(RENEW_BEFORE) < 0) {
                return replace(issue(), "renewed before expiry");
            }
            return false;
        }
        String digest = digestOfFiles();
        if (digest.equals(filesDigest) || digest.equals(refusedDigest)) {
            return false;
        }
        ApiCertificate next;
        try {
            next = load();
        } catch (TlsException e) {
            // Reported once per content: an operator may be copying the files one after the other.
            refusedDigest = digest;
            LOG.error("the new API certificate is not used, the current one ({}) stays: {}", current.fingerprint(),
                    e.getMessage());
            onChange.accept(new Change(false, source(), current.fingerprint(), null, e.getMessage()));
            return false;
        }
        filesDigest = digest;
        refusedDigest = null;
        return replace(next, "the certificate files changed");
    }

    private boolean replace(ApiCertificate next, String why) {
        String old = current.fingerprint();
        try {
            factory.reload(f -> ((SslContextFactory.Server) f).setKeyStore(next.keyStore(storePassword)));
        } catch (Exception e) {
            LOG.error("replacing the API certificate failed; the current one ({}) stays", old, e);
            onChange.accept(new Change(false, source(), old, null, "reload failed: " + e.getMessage()));
            return false;
        }
        current = next;
        LOG.info("API certificate replaced ({}): {} -> {}, valid until {}", why, old, next.fingerprint(),
                next.notAfter());
        onChange.accept(new Change(true, source(), old, next.fingerprint(), why));
        return true;
    }

    private void install(ApiCertificate cert) {
        factory.setKeyStore(cert.keyStore(storePassword));
        factory.setKeyStorePassword(new String(storePassword));
        factory.setKeyManagerPassword(new String(storePassword));
        current = cert;
    }

    private ApiCertificate load() {
        if (settings.certificate() != null) {
            return ApiCertificate.fromPem(settings.certificate(), settings.key());
        }
        if (settings.keystore() != null) {
            return ApiCertificate.fromPkcs12(settings.keystore(), settings.keystorePassword());
        }
        return issue();
    }

    private ApiCertificate issue() {
        KeyPair keys = Keys.generate();
        X509Certificate cert = ca.issue(keys.getPublic(), API_CN, issuedNames, ISSUED_VALIDITY);
        return new ApiCertificate(keys.getPrivate(), List.of(cert, ca.certificate()),
                "issued by the manager's certificate authority");
    }

    private String source() {
        return settings.certificate() != null ? settings.certificate().toString()
                : settings.keystore() != null ? settings.keystore().toString() : "the manager's certificate authority";
    }

    /** SHA-256 over the operator's files (empty for an issued certificate); a missing file counts as content. */
    private String digestOfFiles() {
        if (settings.issued()) {
            return "";
        }
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (Path p : new Path[] {settings.certificate(), settings.key(), settings.keystore()}) {
                if (p == null) {
                    continue;
                }
                try {
                    if (Files.size(p) <= ApiCertificate.MAX_FILE_BYTES) {
                        md.update(Files.readAllBytes(p));
                    } else {
                        md.update(("too large " + Files.size(p)).getBytes());
                    }
                } catch (IOException e) {
                    md.update(("unreadable " + e.getClass().getSimpleName()).getBytes());
                }
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The names an issued certificate carries: the public names, the listen address, and for a loopback or
     * wildcard listen address the loopback names; for a wildcard also this machine's host name and addresses.
     */
    static List<String> issuedNames(String listenAddress, List<String> publicNames) {
        Set<String> names = new LinkedHashSet<>(publicNames);
        boolean wildcard = listenAddress.equals("0.0.0.0") || listenAddress.equals("::");
        if (!wildcard) {
            names.add(listenAddress);
        }
        if (wildcard || ApiTlsSettings.isLoopback(listenAddress)) {
            names.add("localhost");
            names.add("127.0.0.1");
            names.add("::1");
        }
        if (wildcard) {
            try {
                names.add(InetAddress.getLocalHost().getHostName());
                names.add(InetAddress.getLocalHost().getCanonicalHostName());
            } catch (IOException e) {
                // no host name: addresses suffice
            }
            try {
                for (NetworkInterface ni : java.util.Collections.list(NetworkInterface.getNetworkInterfaces())) {
                    for (InetAddress a : java.util.Collections.list(ni.getInetAddresses())) {
                        if (!a.isLinkLocalAddress()) {
                            names.add(a.getHostAddress().replaceAll("%.*$", ""));
                        }
                    }
                }
            } catch (SocketException e) {
                // no interfaces readable: the names above remain
            }
        }
        return new ArrayList<>(names);
    }

    /** The URL users reach the API at: the first public name, else the listen address (127.0.0.1 for a wildcard). */
    public static String url(ApiTlsSettings settings, String listenAddress, int port) {
        String host = !settings.publicNames().isEmpty() ? settings.publicNames().get(0)
                : listenAddress.equals("0.0.0.0") || listenAddress.equals("::") ? "127.0.0.1" : listenAddress;
        if (host.contains(":")) {
            host = "[" + host + "]";
        }
        return (settings.plainHttp() ? "http://" : "https://") + host + ":" + port + "/";
    }

    /** When the current certificate expires (for the health view). */
    public Instant notAfter() {
        return current.notAfter();
    }

    private static char[] randomPassword() {
        byte[] b = new byte[24];
        new SecureRandom().nextBytes(b);
        return Base64.getEncoder().encodeToString(b).toCharArray();
    }
}
