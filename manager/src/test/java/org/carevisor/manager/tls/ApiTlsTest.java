package org.carevisor.manager.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.pki.Fingerprints;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTPS of the API against the real server: the default certificate from the manager's CA, TLS 1.2+ with
 * forward-secret AEAD suites only, HSTS, a plain HTTP request on the HTTPS port not processed, an operator's
 * PEM and PKCS#12 certificate served and replaced without a restart (a broken replacement refused, the old one
 * kept, both audited), and unusable certificates refused at start with the reason.
 */
class ApiTlsTest {
    @TempDir
    Path dir;

    private Manager start(Path data, Map<String, String> env, String... extra) throws Exception {
        System.setProperty("carevisor.admin-password", Lab.ADMIN_PASSWORD);
        List<String> args = new ArrayList<>(List.of("--data-dir", data.toString(), "--port", "0", "--agent-port", "0"));
        args.addAll(List.of(extra));
        return Manager.start(ManagerConfig.parse(args.toArray(String[]::new), env));
    }

    /** The certificate chain the server presents, read with a client that trusts {@code ca}. */
    private static X509Certificate[] served(int port, Path ca) throws Exception {
        SSLContext ctx = Http.sslContext(ca);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.startHandshake();
            return (X509Certificate[]) s.getSession().getPeerCertificates();
        }
    }

    /** True when a handshake with only {@code protocol} and {@code suite} (null: the defaults) succeeds. */
    private static boolean handshakes(int port, Path ca, String protocol, String suite) throws Exception {
        SSLContext ctx = Http.sslContext(ca);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setEnabledProtocols(new String[] {protocol});
            if (suite != null) {
                s.setEnabledCipherSuites(new String[] {suite});
            }
            s.startHandshake();
            return true;
        } catch (javax.net.ssl.SSLException | java.net.SocketException e) {
            return false;
        }
    }

    /** Sends one plain HTTP request to the port and returns the status line and headers. */
    private static String plainRequest(int port, String request) throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
            StringBuilder head = new StringBuilder();
            for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
                head.append(line).append('\n');
            }
            char[] body = new char[4096];
            int n = in.read(body);
            return head + (n > 0 ? new String(body, 0, n) : "");
        }
    }

    @Test
    void defaultIsHttpsWithACertificateFromTheManagersCa() throws Exception {
        Path data = dir.resolve("m/manager");
        try (Manager m = start(data, Map.of())) {
            Path ca = Http.managerCa(data);
            X509Certificate[] chain = served(m.port(), ca);
            assertThat(chain[0].getSubjectX500Principal().getName()).contains("CN=" + ApiTls.API_CN);
            assertThatThrownBy(() -> ApiCertificate.checked(TestCertificates.rsa().getPrivate(), List.of(chain[0]),
                    "served")).isInstanceOf(TlsException.class).hasMessageContaining("does not belong");
            assertThat(Fingerprints.commonName(chain[chain.length - 1])).isEqualTo("Carevisor API CA");
            assertThat(new ApiCertificate(null, List.of(chain[0]), "served").names())
                    .contains("127.0.0.1", "localhost");
            Http.Response r = Http.forManager(data, m.port()).withHeader("X-Probe", "1").get("/api/v1/health");
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.header("Strict-Transport-Security")).isEqualTo("max-age=" + 365 * 24 * 3600);

            assertThat(handshakes(m.port(), ca, "TLSv1.3", null)).isTrue();
            assertThat(handshakes(m.port(), ca, "TLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")).isTrue();
            assertThat(handshakes(m.port(), ca, "TLSv1.1", null)).as("TLS 1.1").isFalse();
            assertThat(handshakes(m.port(), ca, "TLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"))
                    .as("CBC suite").isFalse();
            assertThat(handshakes(m.port(), ca, "TLSv1.2", "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256"))
                    .as("suite without forward secrecy").isFalse();

            // plain HTTP on the HTTPS port: a GET is sent to HTTPS, a POST (maybe a password in clear) is refused
            String get = plainRequest(m.port(), "GET /api/v1/vms HTTP/1.1\r\nHost: 127.0.0.1:" + m.port()
                    + "\r\nConnection: close\r\n\r\n");
            assertThat(get).startsWith("HTTP/1.1 308").contains("Location: https://127.0.0.1:" + m.port() + "/api/v1/vms");
            String body = "{\"username\":\"admin\",\"password\":\"wrong-" + System.nanoTime() + "\"}";
            String post = plainRequest(m.port(), "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\nConnection: close\r\n\r\n"
                    + body);
            assertThat(post).startsWith("HTTP/1.1 400").contains("https-required");
            Http admin = Http.forManager(data, m.port()).login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
            var logins = admin.get("/api/v1/audit?action=auth.login&limit=50").json();
            assertThat(logins).as("the admin's own login is recorded").isNotEmpty();
            for (var rec : logins) {
                assertThat(rec.path("outcome").asText()).as("the plain request was not processed: " + rec)
                        .isEqualTo("success");
            }
        }
    }

    @Test
    void operatorsPemCertificateIsServedAndReplacedWithoutRestart() throws Exception {
        TestCertificates hospital = new TestCertificates("Klinikum Test CA");
        Path ca = hospital.writeCa(dir.resolve("hospital-ca.pem"));
        Path cert = dir.resolve("api.pem");
        Path key = dir.resolve("api.key");
        KeyPair first = TestCertificates.rsa();
        X509Certificate firstLeaf = hospital.validLeaf(first);
        hospital.writePem(cert, key, firstLeaf, first);
        Path data = dir.resolve("m/manager");
        try (Manager m = start(data, Map.of(), "--tls-cert", cert.toString(), "--tls-key", key.toString())) {
            assertThat(Fingerprints.of(served(m.port(), ca)[0])).isEqualTo(Fingerprints.of(firstLeaf));
            Http admin = new Http("https://127.0.0.1:" + m.port(), ca).login(Lab.ADMIN, Lab.ADMIN_PASSWORD);

            KeyPair second = TestCertificates.rsa();
            X509Certificate secondLeaf = hospital.validLeaf(second);
            hospital.writePem(cert, key, secondLeaf, second);
            Poll.until(Duration.ofSeconds(30), "the renewed certificate to be served", () -> {
                try {
                    return Fingerprints.of(served(m.port(), ca)[0]).equals(Fingerprints.of(secondLeaf)) ? true : null;
                } catch (Exception e) {
                    return null;
                }
            });
            assertThat(admin.get("/api/v1/vms").status()).as("sessions survive a certificate change").isEqualTo(200);

            // a certificate whose key does not belong to it: refused, the current one stays, the refusal audited
            hospital.writePem(cert, key, hospital.validLeaf(TestCertificates.rsa()), second);
            Poll.until(Duration.ofSeconds(30), "the refused replacement in the audit trail", () -> {
                var r = admin.get("/api/v1/audit?action=manager.tls.reload&limit=10").json();
                for (var rec : r) {
                    if (rec.path("outcome").asText().equals("failure")) {
                        return rec;
                    }
                }
                return null;
            });
            assertThat(Fingerprints.of(served(m.port(), ca)[0])).isEqualTo(Fingerprints.of(secondLeaf));
            var reloads = admin.get("/api/v1/audit?action=manager.tls.reload&limit=10").json();
            assertThat(reloads.toString()).contains(Fingerprints.of(secondLeaf), "does not belong");
        }
    }

    @Test
    void pkcs12CertificateIsServed() throws Exception {
        TestCertificates hospital = new TestCertificates("Klinikum P12 CA");
        Path ca = hospital.writeCa(dir.resolve("ca.pem"));
        KeyPair keys = TestCertificates.rsa();
        X509Certificate leaf = hospital.validLeaf(keys);
        Path p12 = dir.resolve("api.p12");
        hospital.writePkcs12(p12, leaf, keys, "p12-Secret");
        try (Manager m = start(dir.resolve("m/manager"), Map.of("CAREVISOR_MANAGER_TLS_KEYSTORE_PASSWORD", "p12-Secret"),
                "--tls-keystore", p12.toString())) {
            assertThat(Fingerprints.of(served(m.port(), ca)[0])).isEqualTo(Fingerprints.of(leaf));
        }
        assertThatThrownBy(() -> start(dir.resolve("m2/manager"), Map.of("CAREVISOR_MANAGER_TLS_KEYSTORE_PASSWORD", "wrong"),
                "--tls-keystore", p12.toString())).isInstanceOf(TlsException.class)
                .hasMessageContaining("--tls-keystore").hasMessageContaining("password");
    }

    @Test
    void unusableCertificatesAreRefusedAtStartWithTheReason() throws Exception {
        TestCertificates hospital = new TestCertificates("Klinikum Bad CA");
        Path cert = dir.resolve("bad.pem");
        Path key = dir.resolve("bad.key");
        KeyPair keys = TestCertificates.rsa();
        hospital.writePem(cert, key, hospital.leaf(keys, List.of("localhost"), Instant.now().minus(Duration.ofDays(30)),
                Instant.now().minus(Duration.ofDays(1)), KeyPurposeId.id_kp_serverAuth), keys);
        assertThatThrownBy(() -> start(dir.resolve("a/manager"), Map.of(), "--tls-cert", cert.toString(), "--tls-key",
                key.toString())).isInstanceOf(TlsException.class).hasMessageContaining("expired");
        hospital.writePem(cert, key, hospital.leaf(keys, List.of("localhost"), Instant.now().minus(Duration.ofDays(1)),
                Instant.now().plus(Duration.ofDays(30)), KeyPurposeId.id_kp_clientAuth), keys);
        assertThatThrownBy(() -> start(dir.resolve("b/manager"), Map.of(), "--tls-cert", cert.toString(), "--tls-key",
                key.toString())).isInstanceOf(TlsException.class).hasMessageContaining("serverAuth");
        hospital.writePem(cert, key, hospital.validLeaf(TestCertificates.rsa()), keys);
        assertThatThrownBy(() -> start(dir.resolve("c/manager"), Map.of(), "--tls-cert", cert.toString(), "--tls-key",
                key.toString())).isInstanceOf(TlsException.class).hasMessageContaining("does not belong");
        Files.writeString(key, "not a key");
        assertThatThrownBy(() -> start(dir.resolve("d/manager"), Map.of(), "--tls-cert", cert.toString(), "--tls-key",
                key.toString())).isInstanceOf(TlsException.class).hasMessageContaining("--tls-key");
        assertThat(dir.resolve("a/manager/manager.url")).doesNotExist();
    }

    @Test
    void plainHttpOnlyOnLoopbackAndOnlyWhenAsked() throws Exception {
        assertThatThrownBy(() -> ManagerConfig.parse(new String[] {"--listen", "0.0.0.0", "--plain-http", "true"},
                Map.of())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("refusing to serve the API and web console over plain HTTP on 0.0.0.0")
                .hasMessageContaining("Leave out --plain-http").hasMessageContaining("listen on 127.0.0.1");
        assertThatThrownBy(() -> ManagerConfig.parse(new String[] {"--listen", "10.1.2.3", "--plain-http", "true"},
                Map.of())).hasMessageContaining("plain HTTP on 10.1.2.3");
        assertThatThrownBy(() -> ManagerConfig.parse(new String[] {"--listen", "carevisor.example", "--plain-http",
            "true"}, Map.of())).as("a name is never assumed to be local").hasMessageContaining("plain HTTP");
        assertThatThrownBy(() -> ManagerConfig.parse(new String[] {"--tls-cert", "/x.pem"}, Map.of()))
                .hasMessageContaining("--tls-key");
        assertThat(ManagerConfig.parse(new String[] {"--listen", "0.0.0.0"}, Map.of()).tls().issued()).isTrue();
        // the real manager program: refuses to start, says why and what to do, and listens nowhere
        try (org.carevisor.testkit.JavaProcess p = org.carevisor.testkit.JavaProcess.start("manager",
                "org.carevisor.manager.ManagerMain", List.of("--data-dir", dir.resolve("refused/manager").toString(),
                        "--listen", "0.0.0.0", "--plain-http", "true", "--port", "0", "--agent-port", "0"),
                dir.resolve("refused.log"))) {
            assertThat(p.awaitExit(Duration.ofSeconds(60))).isEqualTo(2);
            assertThat(Files.readString(dir.resolve("refused.log")))
                    .contains("refusing to serve the API and web console over plain HTTP on 0.0.0.0");
            assertThat(dir.resolve("refused/manager/manager.url")).doesNotExist();
        }
        try (Manager m = start(dir.resolve("plain/manager"), Map.of(), "--plain-http", "true")) {
            Http.Response r = new Http("http://127.0.0.1:" + m.port()).get("/api/v1/health");
            assertThat(r.status()).isEqualTo(200);
        }
    }

    @Test
    void issuedNamesFollowTheListenAddressAndPublicNames() {
        assertThat(ApiTls.issuedNames("127.0.0.1", List.of())).containsExactly("127.0.0.1", "localhost", "::1");
        assertThat(ApiTls.issuedNames("10.0.0.5", List.of("carevisor.klinikum.example")))
                .containsExactly("carevisor.klinikum.example", "10.0.0.5");
        assertThat(ApiTls.issuedNames("0.0.0.0", List.of())).contains("localhost", "127.0.0.1");
        ApiTlsSettings s = ApiTlsSettings.parse((k, d) -> k.equals("public-name") ? "cv.example,10.0.0.5" : d,
                "0.0.0.0");
        assertThat(ApiTls.url(s, "0.0.0.0", 7700)).isEqualTo("https://cv.example:7700/");
        assertThatThrownBy(() -> ApiTlsSettings.parse((k, d) -> k.equals("public-name") ? "evil/name" : d,
                "127.0.0.1")).hasMessageContaining("not a DNS name");
    }
}
