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
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.host.ReportIngest;
import org.carevisor.manager.host.ReportValidator;
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
 * handshake. Every body is bounded before it is parsed ({@link #ENROLL_LIMIT}, {@link #REPORT_LIMIT}), at most
 * {@link #ENROLLMENTS} enrollments and {@link #REPORTS_PER_HOST} reports per host ({@link #REPORTS} in all) are
 * read at once, a report's contents are bounded ({@link ReportValidator}) and checked against the host's registration
 * ({@link ReportIdentity}, {@link ReportClaims}) before it is taken in. Refusals are audited
 * ({@link RefusalLog}). Thread-safe.
 */
public final class AgentListener implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AgentListener.class);
    private static final ObjectMapper JSON = ProtocolJson.mapper();
    /** Largest enrollment request (a token, a few names and an EC certificate request: about 1 KiB). */
    public static final int ENROLL_LIMIT = 64 * 1024;
    /** Largest report (1,024 VMs still fit; a real one is a few KiB to a few 100 KiB). */
    public static final int REPORT_LIMIT = 1024 * 1024;
    static final int ENROLLMENTS = 8;
    /** Reports of one host read at once (an agent sends one at a time, but gives up on one after 5 s). */
    static final int REPORTS_PER_HOST = 3;
    /** Report bodies read at once over all hosts: with {@link #REPORT_LIMIT}, at most 32 MiB of heap. */
    static final int REPORTS = 32;

    private final HttpsServer server;

    private AgentListener(HttpsServer server) {
        this.server = server;
    }

    /** What the listener hands requests to. */
    public record Services(ManagerPki pki, EnrollmentService enrollment, ReportIngest ingest, ReportIdentity identity,
                           ReportClaims claims, Jdbi jdbi, AuditLog audit) {
    }

    public static AgentListener start(String address, int port, Services services) throws IOException {
        HttpsServer server = HttpsServer.create(new InetSocketAddress(address, port), 64);
        server.setHttpsConfigurator(new HttpsConfigurator(services.pki().context()) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = getSSLContext().getDefaultSSLParameters();
                p.setWantClientAuth(true);
                p.setProtocols(new String[] {"TLSv1.3"});
                params.setSSLParameters(p);
            }
        });
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        Handler handler = new Handler(services);
        server.createContext("/", exchange -> {
            try (exchange) {
                handler.handle(exchange);
            }
        });
        server.start();
        return new AgentListener(server);
    }

    /** Serves one request at a time per call; shared state is thread-safe. */
    private static final class Handler {
        private final Services s;
        private final RefusalLog refusals;
        private final Semaphore enrollments = new Semaphore(ENROLLMENTS);
        private final Map<String, Semaphore> reporting = new ConcurrentHashMap<>();
        private final Semaphore reports = new Semaphore(REPORTS);

        Handler(Services s) {
            this.s = s;
            this.refusals = new RefusalLog(s.audit(), Duration.ofMinutes(1));
        }

        void handle(HttpExchange ex) throws IOException {
            ex.getResponseHeaders().set(Protocol.VERSION_HEADER, Integer.toString(Protocol.VERSION));
            String path = ex.getRequestURI().getPath();
            String client = ex.getRemoteAddress().getAddress().getHostAddress();
            RegisteredHost[] host = {null};
            boolean[] audited = {false};
            try {
                String version = ex.getRequestHeaders().getFirst(Protocol.VERSION_HEADER);
                if (!Integer.toString(Protocol.VERSION).equals(version)) {
                    throw new ApiException(400, "protocol-version-mismatch", "Unsupported agent protocol",
                            "the manager speaks agent protocol " + Protocol.VERSION + " but the request says "
                                    + (version == null ? "nothing" : "'" + Clip.text(version, 20) + "'"), null);
                }
                if (!ex.getRequestMethod().equals("POST")) {
                    throw new ApiException(405, "method-not-allowed", "Method not allowed", "only POST is accepted here",
                            null);
                }
                switch (path) {
                    case "/agent/v1/enroll" -> enroll(ex, client, audited);
                    case "/agent/v1/reports" -> {
                        host[0] = authenticatedHost(ex);
                        report(ex, host[0], client);
                    }
                    default -> throw new ApiException(404, "not-found", "Not found", "no agent endpoint "
                            + Clip.text(path, 100), null);
                }
            } catch (ApiException e) {
                // so that the client reads the refusal instead of a reset connection
                BoundedBody.discard(ex, path.equals("/agent/v1/reports") ? REPORT_LIMIT : ENROLL_LIMIT);
                if (e.status() == 413) {
                    ex.getResponseHeaders().set("Connection", "close");
                }
                if (!audited[0]) {
                    refused(path, client, host[0], e.status(), e.code(), e.getMessage());
                }
                send(ex, e.status(), new AgentProblem(e.status(), e.code(), e.getMessage()));
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                String detail = Clip.text(e.getOriginalMessage(), 300);
                refused(path, client, host[0], 400, "malformed-json", detail);
                send(ex, 400, new AgentProblem(400, "malformed-json", detail));
            } catch (RuntimeException e) {
                LOG.error("agent request {} failed", path, e);
                send(ex, 500, new AgentProblem(500, "internal-error", "the manager failed to handle the request; see"
                        + " its log"));
            }
        }

        /** {@code audited} is set once the enrollment service has the request: it audits its own refusals. */
        private void enroll(HttpExchange ex, String client, boolean[] audited) throws IOException {
            if (!enrollments.tryAcquire()) {
                throw ApiException.unavailable("busy", "too many enrollments at once; try again in a moment");
            }
            try {
                byte[] body = BoundedBody.read(ex, ENROLL_LIMIT, "an enrollment request");
                EnrollRequest request = JSON.readValue(body, EnrollRequest.class);
                audited[0] = true;
                send(ex, 200, s.enrollment().enroll(request, client));
            } finally {
                enrollments.release();
            }
        }

        private void report(HttpExchange ex, RegisteredHost host, String client) throws IOException {
            Semaphore permits = reporting.computeIfAbsent(host.id(), k -> new Semaphore(REPORTS_PER_HOST));
            if (!permits.tryAcquire()) {
                throw new ApiException(429, "too-many-requests", "Too many requests", "host " + host.name()
                        + " has " + REPORTS_PER_HOST + " reports in flight already; an agent sends one at a time",
                        null);
            }
            if (!reports.tryAcquire()) {
                permits.release();
                throw ApiException.unavailable("busy", "the manager is reading " + REPORTS + " reports already; the"
                        + " next heartbeat follows in a second");
            }
            try {
                byte[] body = BoundedBody.read(ex, REPORT_LIMIT, "a report");
                HostReport report = JSON.readValue(body, HostReport.class);
                if (report.inventory() == null || !host.id().equals(report.inventory().hostId())) {
                    throw new ApiException(403, "host-mismatch", "Forbidden", "the certificate is for host " + host.id()
                            + " but the report describes another host", null);
                }
                ReportValidator.validate(report);
                s.identity().check(report.inventory(), host, client);
                s.claims().check(report, host);
                send(ex, 200, s.ingest().accept(report));
            } finally {
                reports.release();
                permits.release();
            }
        }

        /** Audits a refusal; a report that is merely history ({@code report-outdated}) is not one. */
        private void refused(String path, String client, RegisteredHost host, int status, String code, String detail) {
            if (code.equals("report-outdated")) {
                return;
            }
            Actor actor = new Actor(host == null ? "agent:unknown" : "agent:" + host.name(), client);
            String action = path.equals("/agent/v1/enroll") ? "host.enroll" : "host.report";
            String kind = host == null ? code : code + "|" + detail.hashCode();
            refusals.refused(action + "|" + (host == null ? client : host.id()), kind, new AuditLog.Entry(actor,
                    action, "host", host == null ? null : host.id(), host == null ? null : host.name(), null, null,
                    status + " " + code + ": " + Clip.text(detail, 1800), AuditLog.Outcome.REFUSED, null));
        }

        /** The registered host of the client certificate, after checking it is current and not revoked. */
        private RegisteredHost authenticatedHost(HttpExchange ex) {
            X509Certificate cert;
            try {
                Certificate[] chain = ((HttpsExchange) ex).getSSLSession().getPeerCertificates();
                cert = (X509Certificate) chain[0];
            } catch (SSLPeerUnverifiedException e) {
                throw new ApiException(401, "client-certificate-required", "Unauthorized",
                        "this endpoint requires the host's client certificate (enroll the agent with a join token)",
                        null);
            }
            String cn = Fingerprints.commonName(cert);
            if (!cn.startsWith("host:")) {
                throw new ApiException(403, "not-a-host", "Forbidden", "certificate '" + Clip.text(cn, 80)
                        + "' is not a host certificate", null);
            }
            String hostId = Clip.text(cn.substring("host:".length()), 64);
            String serial = cert.getSerialNumber().toString(16);
            if (s.pki().isRevoked(cert.getSerialNumber())) {
                throw new ApiException(403, "certificate-revoked", "Forbidden", "the certificate " + serial
                        + " of host " + hostId + " was revoked; the host must be enrolled again with a new join token",
                        null);
            }
            var row = s.jdbi().withHandle(h -> h.createQuery("""
                    SELECT cert_serial, name, endpoint, migration_address, cert_pem FROM hosts WHERE id = :id""")
                    .bind("id", hostId).map((rs, c) -> new String[] {rs.getString("cert_serial"), rs.getString("name"),
                            rs.getString("endpoint"), rs.getString("migration_address"), rs.getString("cert_pem")})
                    .findOne());
            if (row.isEmpty() || !serial.equals(row.get()[0])) {
                throw new ApiException(403, "host-not-enrolled", "Forbidden", "host " + hostId
                        + " is not (or no longer) enrolled with this certificate", null);
            }
            String[] r = row.get();
            if (r[4] == null) {
                // enrolled before the manager kept certificates: this one is the enrolled serial (checked above)
                org.carevisor.manager.ha.HostKeys.remember(s.jdbi(), hostId, serial, cert);
            }
            return new RegisteredHost(hostId, r[1], r[2], r[3]);
        }
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
