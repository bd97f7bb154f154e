package org.carevisor.agent;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import org.carevisor.agent.host.HostIdentity;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Pem;
import org.carevisor.pki.Tls;
import org.carevisor.protocol.AgentProblem;
import org.carevisor.protocol.EnrollRequest;
import org.carevisor.protocol.EnrollResponse;
import org.carevisor.protocol.Protocol;
import org.carevisor.protocol.ProtocolJson;

/**
 * First contact with the manager: the agent generates its key (which never leaves the host), sends a
 * certificate request with the one-time join token, and trusts the manager only if the manager's CA has the
 * fingerprint the operator was given with the token. The manager assigns the host id (a re-enrolled host keeps
 * its own, which its token names); the agent stores it next to the issued identity in its state directory.
 */
final class Enrollment {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Enrollment.class);
    private Enrollment() {
    }

    /** The agent's identity: loaded from {@code tlsDir}, or obtained by enrolling with the join token. */
    static Tls.Identity identity(AgentConfig config, String endpoint) throws IOException {
        Path dir = config.tlsDir();
        if (Tls.exists(dir, "agent") && !(config.joinToken() != null && caChanged(dir, config.caFingerprint()))) {
            if (config.joinToken() != null) {
                LOG.warn("--join-token is not used: this agent has a certificate of this manager in {}; to enroll it"
                        + " again, remove agent.key and agent.crt there first", dir);
            }
            return Tls.load(dir, "agent");
        }
        if (config.joinToken() == null || config.caFingerprint() == null || config.managerUrl() == null) {
            throw new IllegalStateException("this agent has no certificate yet: start it once with --manager-url, "
                    + "--join-token and --ca-fingerprint (create them with: carevisor host join-token create)");
        }
        if (!config.managerUrl().startsWith("https://")) {
            throw new IllegalStateException("--manager-url must be the manager's https:// agent address, not "
                    + config.managerUrl());
        }
        KeyPair keys = Keys.generate();
        String previousId = HostIdentity.load(config.stateDir()).orElse(null);
        // the CN of the request is only a placeholder: the manager names the certificate itself
        EnrollRequest request = new EnrollRequest(config.joinToken(), previousId, config.hostName(), endpoint,
                List.of(), Pem.write(Keys.request(keys, "host:enrolling")), config.migrationAddress());
        HttpClient http = HttpClient.newBuilder().sslContext(Tls.pinned(config.caFingerprint(), "manager"))
                .connectTimeout(Duration.ofSeconds(5)).build();
        HttpResponse<byte[]> response;
        try {
            response = http.send(HttpRequest.newBuilder(URI.create(config.managerUrl().replaceAll("/+$", "")
                            + "/agent/v1/enroll")).timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json")
                    .header(Protocol.VERSION_HEADER, Integer.toString(Protocol.VERSION))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(ProtocolJson.mapper().writeValueAsBytes(request)))
                    .build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new IllegalStateException("enrollment at " + config.managerUrl() + " failed: " + e.getMessage()
                    + (e.getCause() != null ? " (" + e.getCause().getMessage() + ")" : ""), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while enrolling", e);
        }
        if (response.statusCode() != 200) {
            AgentProblem p = ProtocolJson.mapper().readValue(response.body(), AgentProblem.class);
            throw new IllegalStateException("the manager refused the enrollment: " + p.detail() + " [" + p.code() + "]");
        }
        EnrollResponse r = ProtocolJson.mapper().readValue(response.body(), EnrollResponse.class);
        Tls.Identity id = new Tls.Identity(keys.getPrivate(), Pem.certificate(r.certificatePem()),
                Pem.certificate(r.caPem()));
        check(id, r.hostId(), config.caFingerprint());
        Tls.save(dir, "agent", id);
        HostIdentity.store(config.stateDir(), r.hostId());
        if (previousId != null && !previousId.equals(r.hostId())) {
            LOG.warn("enrolled as a new host {} (this state directory was host {} before)", r.hostId(), previousId);
        }
        return id;
    }

    /**
     * The answer must be what was asked for: a certificate for our key's host id, issued by the CA the operator
     * pinned (the CA certificate in the answer becomes the only trust anchor from now on).
     */
    private static void check(Tls.Identity id, String hostId, String caFingerprint) {
        if (hostId == null || !id.commonName().equals("host:" + hostId)) {
            throw new IllegalStateException("the manager's answer is inconsistent: certificate " + id.commonName()
                    + " for host id " + hostId);
        }
        if (!org.carevisor.pki.Fingerprints.of(id.ca()).equalsIgnoreCase(caFingerprint)) {
            throw new IllegalStateException("the manager answered with a CA certificate whose fingerprint is not "
                    + caFingerprint + "; refusing it");
        }
        try {
            id.certificate().verify(id.ca().getPublicKey());
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("the issued certificate is not signed by the pinned CA: " + e.getMessage());
        }
    }

    /** True when the saved CA is not the one the operator now names (the agent moves to another manager). */
    private static boolean caChanged(Path dir, String fingerprint) throws IOException {
        return fingerprint != null && !org.carevisor.pki.Fingerprints.of(Tls.load(dir, "agent").ca())
                .equalsIgnoreCase(fingerprint);
    }
}
