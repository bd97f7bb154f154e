package org.carevisor.itest.attack;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Pem;
import org.carevisor.pki.Tls;
import org.carevisor.protocol.EnrollRequest;
import org.carevisor.protocol.EnrollResponse;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.IncomingResponse;
import org.carevisor.protocol.LeaseSeen;
import org.carevisor.protocol.Protocol;
import org.carevisor.protocol.ProtocolJson;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;

/**
 * A <b>fake</b> agent, for fault injection: a rogue that enrolled with a real join token and holds a real host
 * certificate of the lab's CA, and that runs no QEMU. It sends whatever reports and enrollment requests a test
 * gives it, heartbeats like an agent (so that the manager places a migration on it), and as a migration
 * destination answers {@code POST /v1/vms/{id}/incoming} with a migration URI of the test's choice - the attack
 * of finding 6 - and, as a peer on the shared storage, reports whatever storage leases a test gives it (review item
 * 3). It records every call the manager makes to it. Thread-safe.
 */
final class FakeDestinationAgent implements AutoCloseable {
    private final String managerAgentUrl;
    private final String caFingerprint;
    private final String address;
    private final String name;
    private final HttpsServer server;
    private final ScheduledExecutorService heartbeat = Executors.newSingleThreadScheduledExecutor();
    private final AtomicLong sequence = new AtomicLong();
    private final Instant started = Instant.now();
    private final AtomicReference<String> incomingAnswer = new AtomicReference<>();
    private final List<String> calls = new CopyOnWriteArrayList<>();
    private volatile Tls.Identity identity;
    private volatile String hostId;
    private volatile HostInventory inventory;

    /** A fake listening at {@code address} (it must be an address of this machine) on a free port. */
    FakeDestinationAgent(String name, String address, String managerAgentUrl, String caFingerprint)
            throws IOException {
        this.name = name;
        this.address = address;
        this.managerAgentUrl = managerAgentUrl;
        this.caFingerprint = caFingerprint;
        this.server = HttpsServer.create(new InetSocketAddress(address, 0), 16);
    }

    String endpoint() {
        return "https://" + address + ":" + server.getAddress().getPort();
    }

    String hostId() {
        return hostId;
    }

    String name() {
        return name;
    }

    SSLContext tls() {
        return Tls.context(identity);
    }

    Tls.Identity identity() {
        return identity;
    }

    /** Calls the manager made to this fake ({@code METHOD path}). */
    List<String> calls() {
        return List.copyOf(calls);
    }

    /** What {@code /incoming} answers from now on. */
    void answerIncomingWith(String uri) {
        incomingAnswer.set(uri);
    }

    /** Sends an enrollment request as an agent does (the CA pinned), with the fields given. */
    HttpResponse<String> enrollRaw(String token, String claimedHostId, String hostname, String endpoint,
                                   String migrationAddress, KeyPair keys) throws Exception {
        EnrollRequest r = new EnrollRequest(token, claimedHostId, hostname, endpoint, List.of(),
                Pem.write(Keys.request(keys, "host:" + (claimedHostId == null ? "rogue" : claimedHostId))),
                migrationAddress);
        return post(Tls.pinned(caFingerprint), "/agent/v1/enroll", ProtocolJson.mapper().writeValueAsBytes(r));
    }

    /** Enrolls honestly with {@code token} at this fake's own address and keeps the certificate. */
    void enroll(String token) throws Exception {
        KeyPair keys = Keys.generate();
        HttpResponse<String> r = enrollRaw(token, null, name, endpoint(), address, keys);
        if (r.statusCode() != 200) {
            throw new IllegalStateException("the fake agent could not enroll: " + r.body());
        }
        EnrollResponse e = ProtocolJson.mapper().readValue(r.body(), EnrollResponse.class);
        identity = new Tls.Identity(keys.getPrivate(), Pem.certificate(e.certificatePem()), Pem.certificate(e.caPem()));
        hostId = e.hostId();
    }

    /** Serves the fake agent API and heartbeats with {@code inventory} (its host id is this fake's). */
    void start(String storageDomainId, List<String> cpuModels, List<String> bridges) {
        inventory = new HostInventory(hostId, name, endpoint(), 4, "fake CPU", 16384, 16000, "/fake", 1L << 40,
                1L << 40, "7.2", "tcg", List.of("this is a fake agent of a test"), false, "fake", Protocol.VERSION,
                storageDomainId, 0, cpuModels, bridges, address, 49152, 49215);
        server.setHttpsConfigurator(new HttpsConfigurator(tls()));
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/", this::serve);
        server.start();
        heartbeat.scheduleWithFixedDelay(() -> {
            try {
                report(inventory, List.of());
            } catch (Exception e) {
                // a heartbeat lost; the next one follows
            }
        }, 0, 1, TimeUnit.SECONDS);
    }

    HostInventory inventory() {
        return inventory;
    }

    /** Sends one report with this fake's certificate (one at a time, so they arrive in their order). */
    synchronized HttpResponse<String> report(HostInventory inv, List<VmStatus> vms) throws Exception {
        return report(inv, vms, List.of());
    }

    /** Sends one report that says it saw {@code leases} on the shared storage. */
    synchronized HttpResponse<String> report(HostInventory inv, List<VmStatus> vms, List<LeaseSeen> leases)
            throws Exception {
        return post(tls(), "/agent/v1/reports", ProtocolJson.mapper().writeValueAsBytes(new HostReport(inv, vms,
                sequence.incrementAndGet(), Instant.now(), started, leases)));
    }

    /** POSTs raw bytes to the manager's agent listener with this fake's certificate. */
    HttpResponse<String> postRaw(String path, byte[] body) throws Exception {
        return post(tls(), path, body);
    }

    private HttpResponse<String> post(SSLContext tls, String path, byte[] body) throws Exception {
        return HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(5)).build().send(
                HttpRequest.newBuilder(URI.create(managerAgentUrl + path)).timeout(Duration.ofSeconds(30))
                        .header(Protocol.VERSION_HEADER, "1").header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private void serve(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            calls.add(ex.getRequestMethod() + " " + path);
            ex.getRequestBody().readAllBytes();
            ex.getResponseHeaders().set(Protocol.VERSION_HEADER, Integer.toString(Protocol.VERSION));
            Object answer;
            int status = 200;
            String vm = path.matches("/v1/vms/[0-9a-f-]{36}/.*") ? path.substring(8, 44) : null;
            if (ex.getRequestMethod().equals("POST") && vm != null && path.endsWith("/incoming")) {
                answer = new IncomingResponse(incomingAnswer.get(), status(vm, VmState.INCOMING));
            } else if (ex.getRequestMethod().equals("DELETE") && vm != null && path.endsWith("/incoming")) {
                answer = status(vm, VmState.STOPPED);
            } else if (path.equals("/v1/images")) {
                answer = List.of();
            } else {
                status = 404;
                answer = new org.carevisor.protocol.AgentProblem(404, "not-found", "a fake agent: " + path);
            }
            byte[] bytes = ProtocolJson.mapper().writeValueAsBytes(answer);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(status, bytes.length);
            ex.getResponseBody().write(bytes);
        }
    }

    private static VmStatus status(String vm, VmState state) {
        return new VmStatus(vm, state, "fake", null, null, Instant.now(), null, null, List.of(), 1);
    }

    @Override
    public void close() {
        heartbeat.shutdownNow();
        server.stop(0);
    }
}
