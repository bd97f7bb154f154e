package org.carevisor.manager.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.List;
import org.carevisor.manager.host.AgentCallException;
import org.carevisor.manager.host.AgentClient;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Tls;
import org.carevisor.protocol.Protocol;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The manager calls an agent only when the agent presents the current certificate of the host registered at the
 * address called: the host's own certificate works, its revoked predecessor (same CA, same name) does not. The
 * "agent" here is a JDK HTTPS server holding real certificates the manager issued at enrollment.
 */
class AgentPinningTest {
    @TempDir
    Path dir;

    private HttpsServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    /** Serves GET /v1/images at {@code address}:{@code port} with {@code id}'s certificate. */
    private void serve(String address, int port, Tls.Identity id) throws Exception {
        if (server != null) {
            server.stop(0);
        }
        server = HttpsServer.create(new InetSocketAddress(address, port), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(Tls.context(id)));
        server.createContext("/", ex -> {
            byte[] body = "[]".getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.getResponseHeaders().add(Protocol.VERSION_HEADER, Integer.toString(Protocol.VERSION));
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
    }

    private static int freePort() throws Exception {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void onlyTheCurrentCertificateOfTheRegisteredHostIsAccepted() throws Exception {
        try (AgentWire wire = new AgentWire(dir)) {
            int port = freePort();
            String endpoint = "https://127.0.20.1:" + port;
            AgentWire.Enrolled host = wire.enroll("pin-a", endpoint, null);
            AgentClient client = new AgentClient(wire.manager.pki().agentClientContext());

            serve("127.0.20.1", port, host.identity());
            assertThat(client.images(endpoint)).isEmpty();

            // the host enrolls again (a token for it): the old certificate, same CA and names, is no longer it
            KeyPair keys = Keys.generate();
            String token = wire.token("{\"ttlMinutes\":10,\"host\":\"pin-a\"}").path("token").asText();
            AgentWire.Enrolled again = wire.parse(wire.enrollRaw(token, null, "pin-a", endpoint, List.of(), null, keys),
                    keys, "pin-a", endpoint, null);
            assertThat(again.hostId()).isEqualTo(host.hostId());

            AgentClient fresh = new AgentClient(wire.manager.pki().agentClientContext());
            serve("127.0.20.1", port, host.identity());
            assertThatThrownBy(() -> fresh.images(endpoint)).isInstanceOf(AgentCallException.class);
            serve("127.0.20.1", port, again.identity());
            assertThat(new AgentClient(wire.manager.pki().agentClientContext()).images(endpoint)).isEmpty();

            // a certificate of the CA that is no host's at all (the manager's own, CN manager) is refused too
            serve("127.0.20.1", port, wire.manager.pki().identity());
            assertThatThrownBy(() -> new AgentClient(wire.manager.pki().agentClientContext()).images(endpoint))
                    .isInstanceOf(AgentCallException.class);
        }
    }
}
