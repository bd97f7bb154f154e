package org.carevisor.agent.ha;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.carevisor.agent.TestPki;
import org.carevisor.pki.Tls;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.ProtocolJson;
import org.carevisor.protocol.ReportAck;

/**
 * A stand-in for the manager's report endpoint ({@code POST /agent/v1/reports}): keeps the reports it
 * receives and answers {@code 200} with {@link #ack} (or {@code 204} while it is null). Closing it makes
 * the manager unreachable (connections are refused).
 */
final class FakeManager implements AutoCloseable {
    private final HttpsServer server;
    final List<HostReport> reports = new CopyOnWriteArrayList<>();
    volatile ReportAck ack;

    FakeManager(TestPki pki) throws IOException {
        server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.setHttpsConfigurator(new HttpsConfigurator(Tls.context(pki.identity("manager"))));
        server.createContext("/agent/v1/reports", exchange -> {
            try (exchange) {
                reports.add(ProtocolJson.mapper().readValue(exchange.getRequestBody(), HostReport.class));
                ReportAck answer = ack;
                if (answer == null) {
                    exchange.sendResponseHeaders(204, -1);
                    return;
                }
                byte[] body = ProtocolJson.mapper().writeValueAsBytes(answer);
                exchange.getResponseHeaders().set("Content-Type", "application/json");
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
            }
        });
        server.start();
    }

    String url() {
        return "https://127.0.0.1:" + server.getAddress().getPort();
    }

    HostReport lastReport() {
        return reports.isEmpty() ? null : reports.get(reports.size() - 1);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
