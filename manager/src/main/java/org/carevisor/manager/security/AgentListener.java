package org.carevisor.manager.security;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsExchange;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.host.ReportIngest;
import org.carevisor.pki.Fingerprints;
import org.carevisor.protocol.AgentProblem;
import org.carevisor.protocol.EnrollRequest;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.Protocol;
import org.carevisor.protocol.ProtocolJson;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The manager's listener for agents: TLS 1.3 with certificates of the Carevisor CA. {@code POST
 * /agent/v1/enroll} is the only endpoint that accepts a connection without a client certificate (it is
 * guarded by the join token); {@code POST /agent/v1/reports} requires the certificate of the very host the
 * report describes, not revoked and still the host's current one. Certificates of other CAs fail the TLS
 * handshake.
 */
public final class AgentListener implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AgentListener.class);
    private static final ObjectMapper JSON = ProtocolJson.mapper();

    private final HttpsServer server;

    private AgentListener(HttpsServer server) {
        this.server = server;
    }

    public static AgentListener start(String address, int port, ManagerPki pki, EnrollmentService enrollment,
                                      ReportIngest ingest, Jdbi jdbi) throws IOException {
        HttpsServer server = HttpsServer.create(new InetSocketAddress(address, port), 64);
        server.setHttpsConfigurator(new HttpsConfigurator(pki.context()) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = getSSLContext().getDefaultSSLParameters();
                p.setWantClientAuth(true);
                p.setProtocols(new String[] {"TLSv1.3"});
                params.setSSLParameters(p);
            }
        });
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/", exchange -> {
            try (exchange) {
                handle(exchange, pki, enrollment, ingest, jdbi);
            }
        });
        server.start();
        return new AgentListener(server);
    }

    private static void handle(HttpExchange ex, ManagerPki pki, EnrollmentService enrollment, ReportIngest ingest,
                               Jdbi jdbi) throws IOException {
        ex.getResponseHeaders().set(Protocol.VERSION_HEADER, Integer.toString(Protocol.VERSION));
        String path = ex.getRequestURI().getPath();
        try {
            String version = ex.getRequestHeaders().getFirst(Protocol.VERSION_HEADER);
            if (!Integer.toString(Protocol.VERSION).equals(version)) {
                throw new ApiException(400, "protocol-version-mismatch", "Unsupported agent protocol",
                        "the manager speaks agent protocol " + Protocol.VERSION + " but the request says "
                                + (version == null ? "nothing" : "'" + version + "'"), null);
            }
            if (!ex.getRequestMethod().equals("POST")) {
                throw new ApiException(405, "method-not-allowed", "Method not allowed", "only POST is accepted here", null);
            }
            String client = ex.getRemoteAddress().getAddress().getHostAddress();
            switch (path) {
                case "/agent/v1/enroll" -> send(ex, 200, enrollment.enroll(JSON.readValue(ex.getRequestBody(),
                        EnrollRequest.class), client));
                case "/agent/v1/reports" -> {
                    String hostId = authenticatedHost(ex, pki, jdbi);
                    HostReport report = JSON.readValue(ex.getRequestBody(), HostReport.class);
                    if (report.inventory() == null || !hostId.equals(report.inventory().hostId())) {
                        throw new ApiException(403, "host-mismatch", "Forbidden", "the certificate is for host " + hostId
                                + " but the report describes another host", null);
                    }
                    send(ex, 200, ingest.accept(report));
                }
                default -> throw new ApiException(404, "not-found", "Not found", "no agent endpoint " + path, null);
            }
        } catch (ApiException e) {
            send(ex, e.status(), new AgentProblem(e.status(), e.code(), e.getMessage()));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            send(ex, 400, new AgentProblem(400, "malformed-json", e.getOriginalMessage()));
        } catch (RuntimeException e) {
            LOG.error("agent request {} failed", path, e);
            send(ex, 500, new AgentProblem(500, "internal-error", e.toString()));
        }
    }

    /** The host id of the client certificate, after checking it is current and not revoked. */
    static String authenticatedHost(HttpExchange ex, ManagerPki pki, Jdbi jdbi) {
        X509Certificate cert;
        try {
            Certificate[] chain = ((HttpsExchange) ex).getSSLSession().getPeerCertificates();
            cert = (X509Certificate) chain[0];
        } catch (SSLPeerUnverifiedException e) {
            throw new ApiException(401, "client-certificate-required", "Unauthorized",
                    "this endpoint requires the host's client certificate (enroll the agent with a join token)", null);
        }
        String cn = Fingerprints.commonName(cert);
        if (!cn.startsWith("host:")) {
            throw new ApiException(403, "not-a-host", "Forbidden", "certificate '" + cn + "' is not a host certificate",
                    null);
        }
        String hostId = cn.substring("host:".length());
        String serial = cert.getSerialNumber().toString(16);
        if (pki.isRevoked(cert.getSerialNumber())) {
            throw new ApiException(403, "certificate-revoked", "Forbidden", "the certificate " + serial + " of host "
                    + hostId + " was revoked; the host must be enrolled again with a new join token", null);
        }
        String current = jdbi.withHandle(h -> h.createQuery("SELECT cert_serial FROM hosts WHERE id = :id")
                .bind("id", hostId).mapTo(String.class).findOne().orElse(null));
        if (!serial.equals(current)) {
            throw new ApiException(403, "host-not-enrolled", "Forbidden", "host " + hostId
                    + " is not (or no longer) enrolled with this certificate", null);
        }
        return hostId;
    }

    private static void send(HttpExchange ex, int status, Object body) throws IOException {
        if (body == null) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        byte[] bytes = JSON.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
