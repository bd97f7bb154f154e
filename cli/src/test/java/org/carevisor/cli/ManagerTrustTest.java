package org.carevisor.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Pem;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI's certificate checks against a real HTTPS server with certificates from a real CA: an untrusted
 * manager is refused before any request is sent (its fingerprint shown), --trust-fingerprint trusts it only when
 * the fingerprint matches and remembers it, --ca trusts the CA file, a changed certificate is refused as a
 * possible man-in-the-middle, a certificate for another name is refused with the names it has.
 */
class ManagerTrustTest {
    @TempDir
    Path dir;

    private HttpsServer server;
    private final AtomicInteger requests = new AtomicInteger();

    /** Starts an HTTPS server on 127.0.0.1 presenting a certificate from {@code ca} for {@code names}. */
    private int serve(CertificateAuthority ca, List<String> names) throws Exception {
        if (server != null) {
            server.stop(0);
        }
        KeyPair keys = Keys.generate();
        X509Certificate leaf = ca.issue(keys.getPublic(), "carevisor-api", names, Duration.ofDays(30));
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("api", keys.getPrivate(), new char[0], new X509Certificate[] {leaf, ca.certificate()});
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, new char[0]);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        int port = server == null ? 0 : server.getAddress().getPort();
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(ctx));
        server.createContext("/", ex -> {
            requests.incrementAndGet();
            byte[] body = "{\"status\":\"ok\",\"version\":\"test\",\"hosts\":{\"connected\":0}}".getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
        return server.getAddress().getPort();
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    record Run(int code, String out, String err) {
    }

    private Run cli(String url, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CarevisorCli root = new CarevisorCli(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)).sessionFile(dir.resolve("cli/session"));
        root.env = k -> k.equals("CAREVISOR_VAR") ? dir.resolve("no-var").toString() : null;
        List<String> full = new ArrayList<>(List.of("--url", url));
        full.addAll(List.of(args));
        full.add("health");
        int code = CarevisorCli.execute(root, full.toArray(String[]::new));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void untrustedThenTrustedOnFirstUseByFingerprintThenChangedIsRefused() throws Exception {
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir.resolve("ca1"), "Carevisor CA");
        int port = serve(ca, List.of("127.0.0.1", "localhost"));
        String url = "https://127.0.0.1:" + port;

        Run refused = cli(url);
        assertThat(refused.code()).isEqualTo(ExitCodes.UNTRUSTED);
        assertThat(refused.err()).contains("does not trust", ca.fingerprint(), "--trust-fingerprint", "--ca FILE",
                "CN=Carevisor CA");
        assertThat(requests.get()).as("nothing was sent to an untrusted manager").isZero();

        Run wrong = cli(url, "--trust-fingerprint", "sha256:" + "00".repeat(32));
        assertThat(wrong.code()).isEqualTo(ExitCodes.UNTRUSTED);
        assertThat(wrong.err()).contains("not the sha256:00", "nothing was sent");
        assertThat(requests.get()).isZero();

        Run trusted = cli(url, "--trust-fingerprint", ca.fingerprint().toUpperCase());
        assertThat(trusted.code()).as(trusted.err()).isZero();
        assertThat(trusted.err()).contains("trusting the manager's certificate " + ca.fingerprint());
        Path known = dir.resolve("cli/known-managers");
        assertThat(Files.readString(known)).contains(url, ca.fingerprint());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(known))).isEqualTo("rw-------");
        assertThat(cli(url).code()).as("remembered for this URL").isZero();
        assertThat(cli("https://localhost:" + port).code()).as("pins are per URL").isEqualTo(ExitCodes.UNTRUSTED);

        // the manager now presents a certificate from another CA: a possible man-in-the-middle
        CertificateAuthority other = CertificateAuthority.loadOrCreate(dir.resolve("ca2"), "Carevisor CA");
        serve(other, List.of("127.0.0.1"));
        int before = requests.get();
        Run changed = cli(url);
        assertThat(changed.code()).isEqualTo(ExitCodes.UNTRUSTED);
        assertThat(changed.err()).contains("CHANGED", ca.fingerprint(), other.fingerprint(), "man-in-the-middle");
        assertThat(requests.get()).isEqualTo(before);
    }

    @Test
    void caFileIsTrustedAndHostNamesAreChecked() throws Exception {
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir.resolve("ca"), "Carevisor CA");
        Path caFile = dir.resolve("ca/ca.crt");
        int port = serve(ca, List.of("localhost"));
        Run ok = cli("https://localhost:" + port, "--ca", caFile.toString());
        assertThat(ok.code()).as(ok.err()).isZero();
        assertThat(ok.out()).contains("ok");

        Run name = cli("https://127.0.0.1:" + port, "--ca", caFile.toString());
        assertThat(name.code()).isEqualTo(ExitCodes.UNTRUSTED);
        assertThat(name.err()).contains("not valid for '127.0.0.1'", "[localhost]", "--public-name");

        Run pinnedButWrongName = cli("https://127.0.0.1:" + port, "--trust-fingerprint", ca.fingerprint());
        assertThat(pinnedButWrongName.code()).as("trusting the CA does not excuse a wrong name")
                .isEqualTo(ExitCodes.UNTRUSTED);

        Run missing = cli("https://localhost:" + port, "--ca", dir.resolve("nope.pem").toString());
        assertThat(missing.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(missing.err()).contains("no such file");
        Files.writeString(dir.resolve("garbage.pem"), Pem.write(Keys.generate().getPublic()));
        Run garbage = cli("https://localhost:" + port, "--ca", dir.resolve("garbage.pem").toString());
        assertThat(garbage.code()).isEqualTo(ExitCodes.ERROR);
        assertThat(garbage.err()).contains("cannot read the CA certificate file");
    }

    @Test
    void plainHttpOnlyToThisMachine() {
        Run remote = cli("http://10.1.2.3:7700");
        assertThat(remote.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(remote.err()).contains("refusing to talk to http://10.1.2.3:7700 over plain HTTP", "https://");
        assertThat(CarevisorCli.local("https://127.0.0.1:7700")).isTrue();
        assertThat(CarevisorCli.local("https://[::1]:7700")).isTrue();
        assertThat(CarevisorCli.local("https://localhost:7700/")).isTrue();
        assertThat(CarevisorCli.local("https://carevisor.example:7700")).isFalse();
        assertThat(CarevisorCli.local("https://10.0.0.1:7700")).isFalse();
    }

    @Test
    void theManagersCaBesideTheCliIsTrustedOnlyForThisMachine() throws Exception {
        Path var = dir.resolve("var");
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(var.resolve("manager/pki"), "Carevisor API CA",
                "api-ca");
        int port = serve(ca, List.of("127.0.0.1"));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CarevisorCli root = new CarevisorCli(new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8)).sessionFile(dir.resolve("s"));
        root.env = k -> k.equals("CAREVISOR_VAR") ? var.toString() : null;
        int code = CarevisorCli.execute(root, "--url", "https://127.0.0.1:" + port, "health");
        assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
        // the same CA file is not taken for a manager elsewhere (a planted ./var must not vouch for other servers)
        CarevisorCli other = new CarevisorCli(new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(new ByteArrayOutputStream()));
        other.env = k -> k.equals("CAREVISOR_VAR") ? var.toString() : null;
        assertThat(other.trust("https://carevisor.example:" + port).caFiles()).isEmpty();
        assertThat(other.trust("https://127.0.0.1:" + port).caFiles()).hasSize(1);
    }
}
