package org.carevisor.agent;

import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Tls;

/**
 * A certificate authority made for one test: it provisions an agent's identity into its TLS directory (as a
 * configuration-management tool would) and gives out client identities for calling the agent.
 */
public final class TestPki {
    private final CertificateAuthority ca;

    public TestPki(Path dir) throws IOException {
        this.ca = CertificateAuthority.loadOrCreate(dir, "Test CA");
    }

    /** Writes an agent identity (CN host:test, reachable at 127.0.0.1) into {@code tlsDir}. */
    public void provisionAgent(Path tlsDir) throws IOException {
        Tls.save(tlsDir, "agent", identity("host:test"));
    }

    public Tls.Identity identity(String commonName) {
        KeyPair keys = Keys.generate();
        return new Tls.Identity(keys.getPrivate(), ca.issue(keys.getPublic(), commonName, List.of("127.0.0.1",
                "localhost"), Duration.ofDays(1)), ca.certificate());
    }

    /** An HTTP client presenting a certificate with CN {@code commonName}. */
    public HttpClient client(String commonName) {
        return HttpClient.newBuilder().sslContext(Tls.context(identity(commonName))).build();
    }
}
