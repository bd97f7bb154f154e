package org.carevisor.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An agent talks to the manager only: a server with another certificate of the same CA (a host's, even one
 * naming the manager's address, as hosts enrolled by older versions may hold) is refused in the handshake.
 */
class TlsPeerNameTest {
    @TempDir
    Path dir;

    private int serve(CertificateAuthority ca, String cn) throws Exception {
        KeyPair keys = Keys.generate();
        Tls.Identity id = new Tls.Identity(keys.getPrivate(), ca.issue(keys.getPublic(), cn, List.of("127.0.0.1"),
                Duration.ofDays(1)), ca.certificate());
        HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 4);
        server.setHttpsConfigurator(new HttpsConfigurator(Tls.context(id)));
        server.createContext("/", ex -> {
            ex.sendResponseHeaders(204, -1);
            ex.close();
        });
        server.start();
        servers.add(server);
        return server.getAddress().getPort();
    }

    private final java.util.List<HttpsServer> servers = new java.util.ArrayList<>();

    private static int get(javax.net.ssl.SSLContext tls, int port) throws Exception {
        return HttpClient.newBuilder().sslContext(tls).build().send(HttpRequest.newBuilder(URI.create(
                "https://127.0.0.1:" + port + "/")).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    @Test
    void onlyTheNamedPeerIsAccepted() throws Exception {
        try {
            CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir.resolve("ca"), "Test CA");
            KeyPair keys = Keys.generate();
            Tls.Identity agent = new Tls.Identity(keys.getPrivate(), ca.issue(keys.getPublic(), "host:a",
                    List.of("127.0.0.1"), Duration.ofDays(1)), ca.certificate());
            int manager = serve(ca, "manager");
            int rogue = serve(ca, "host:rogue");
            assertThat(get(Tls.context(agent, "manager"), manager)).isEqualTo(204);
            assertThatThrownBy(() -> get(Tls.context(agent, "manager"), rogue)).isInstanceOf(java.io.IOException.class)
                    .hasStackTraceContaining("not 'manager'");
            assertThat(get(Tls.context(agent), rogue)).as("without the name, any certificate of the CA").isEqualTo(204);
            assertThat(get(Tls.pinned(ca.fingerprint(), "manager"), manager)).isEqualTo(204);
            assertThatThrownBy(() -> get(Tls.pinned(ca.fingerprint(), "manager"), rogue))
                    .isInstanceOf(java.io.IOException.class).hasStackTraceContaining("refusing to enroll");
        } finally {
            servers.forEach(s -> s.stop(0));
        }
    }
}
