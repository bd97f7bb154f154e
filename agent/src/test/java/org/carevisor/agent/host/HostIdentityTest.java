package org.carevisor.agent.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Tls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent keeps the host id the manager gave it; an enrolled agent's id is the one in its certificate. */
class HostIdentityTest {
    @TempDir
    Path dir;

    private Tls.Identity identity(String cn) throws Exception {
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir.resolve("ca"), "Test CA");
        KeyPair keys = Keys.generate();
        return new Tls.Identity(keys.getPrivate(), ca.issue(keys.getPublic(), cn, List.of("127.0.0.1"),
                Duration.ofDays(1)), ca.certificate());
    }

    @Test
    void theIdComesFromTheCertificateTheManagerIssued() throws Exception {
        Path state = dir.resolve("state");
        assertThat(HostIdentity.load(state)).isEmpty();
        String assigned = UUID.randomUUID().toString();
        assertThat(HostIdentity.of(state, identity("host:" + assigned))).isEqualTo(assigned);
        assertThat(Files.readString(state.resolve("host-id")).strip()).isEqualTo(assigned);
        // a state directory that named another host before (re-enrolled as a new host) takes the new id
        String next = UUID.randomUUID().toString();
        assertThat(HostIdentity.of(state, identity("host:" + next))).isEqualTo(next);
        assertThat(HostIdentity.load(state)).contains(next);
    }

    @Test
    void aProvisionedCertificateWithoutAnIdKeepsTheStateDirectorysId() throws Exception {
        Path state = dir.resolve("provisioned");
        String first = HostIdentity.of(state, identity("host:test"));
        assertThat(UUID.fromString(first).toString()).isEqualTo(first);
        assertThat(HostIdentity.of(state, identity("host:test"))).isEqualTo(first);
    }

    @Test
    void aDamagedIdFileIsNotUsed() throws Exception {
        Path state = dir.resolve("damaged");
        Files.createDirectories(state);
        Files.writeString(state.resolve("host-id"), "../../etc\n");
        assertThatThrownBy(() -> HostIdentity.load(state)).hasMessageContaining("does not hold a host id");
        assertThatThrownBy(() -> HostIdentity.store(state, "not-an-id")).isInstanceOf(IllegalArgumentException.class);
    }
}
