package org.carevisor.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.carevisor.agent.AgentException;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Tls;
import org.carevisor.qemu.QmpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Migration streams under mutual TLS, with real QEMU processes (two paused, diskless TCG machines that migrate
 * their state to each other) and certificates issued the way the manager issues host certificates: the named source
 * gets through, a host certificate of another host of the same CA is refused by the destination, a destination
 * whose certificate does not carry the name the manager gave is refused by the source, and bad peer names never
 * reach QEMU.
 */
class MigrationTlsTest {
    @TempDir
    Path dir;
    CertificateAuthority ca;
    final List<Process> qemus = new ArrayList<>();
    final List<QmpClient> clients = new ArrayList<>();

    @BeforeEach
    void ca() throws IOException {
        ca = CertificateAuthority.loadOrCreate(dir.resolve("ca"), "Carevisor CA");
    }

    @AfterEach
    void stop() {
        clients.forEach(QmpClient::close);
        for (Process p : qemus) {
            p.destroyForcibly();
        }
    }

    /** A host's certificate directory as enrollment leaves it, for host {@code id} at {@code address}. */
    private Path host(String id, String address) throws IOException {
        KeyPair keys = Keys.generate();
        Path d = dir.resolve("host-" + id);
        Files.createDirectories(d);
        Tls.save(d, "agent", new Tls.Identity(keys.getPrivate(), ca.issue(keys.getPublic(), "host:" + id,
                List.of(address), Duration.ofHours(1)), ca.certificate()));
        return d;
    }

    private QmpClient qemu(String name, boolean incoming) throws Exception {
        Path vmDir = Files.createDirectories(dir.resolve("vm-" + name));
        Path socket = vmDir.resolve("qmp.sock");
        List<String> cmd = new ArrayList<>(List.of("qemu-system-x86_64", "-nodefaults", "-display", "none",
                "-machine", "pc,accel=tcg", "-m", "32", "-S", "-qmp", "unix:" + socket + ",server=on,wait=off"));
        if (incoming) {
            cmd.addAll(List.of("-incoming", "defer"));
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(vmDir.resolve("qemu.log").toFile()).start();
        qemus.add(p);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!Files.exists(socket)) {
            if (System.nanoTime() > deadline || !p.isAlive()) {
                throw new AssertionError("QEMU " + name + " did not open its monitor: "
                        + Files.readString(vmDir.resolve("qemu.log")));
            }
            Thread.sleep(50);
        }
        QmpClient c = QmpClient.connect(socket, name, e -> { }, () -> { });
        clients.add(c);
        return c;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Migrates from a source presenting {@code sourceCerts} to a destination accepting {@code named}. */
    private String[] migrate(Path sourceCerts, String tlsHostname, Path destCerts, String named) throws Exception {
        QmpClient dst = qemu("dst", true);
        QmpClient src = qemu("src", false);
        new MigrationTls(destCerts).serve(dst, dir.resolve("vm-dst"), named);
        String uri = "tcp:127.0.0.1:" + freePort();
        dst.execute("migrate-incoming", Map.of("uri", uri));
        new MigrationTls(sourceCerts).connect(src, dir.resolve("vm-src"), tlsHostname);
        src.execute("migrate", Map.of("uri", uri));
        String s = "setup";
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!s.equals("completed") && !s.equals("failed") && System.nanoTime() < deadline) {
            Thread.sleep(50);
            s = src.execute("query-migrate", null).path("status").asText();
        }
        String d;
        try {
            d = dst.execute("query-migrate", null).path("status").asText();
        } catch (RuntimeException e) {
            d = "gone"; // a destination QEMU ends by itself when its incoming stream fails
        }
        assertThat(dir.resolve("vm-src/migration-tls")).as("the key copy is gone once QEMU read it").doesNotExist();
        assertThat(dir.resolve("vm-dst/migration-tls")).doesNotExist();
        return new String[] {s, d, Files.readString(dir.resolve("vm-dst/qemu.log"))};
    }

    @Test
    void theNamedSourceMigratesToTheNamedDestination() throws Exception {
        String srcId = UUID.randomUUID().toString();
        String[] r = migrate(host(srcId, "127.0.0.1"), "127.0.0.1", host(UUID.randomUUID().toString(),
                "127.0.0.1"), srcId);
        assertThat(r[0]).as(r[2]).isEqualTo("completed");
    }

    @Test
    void anotherHostsCertificateIsRefusedByTheDestination() throws Exception {
        String[] r = migrate(host(UUID.randomUUID().toString(), "127.0.0.1"), "127.0.0.1",
                host(UUID.randomUUID().toString(), "127.0.0.1"), UUID.randomUUID().toString());
        assertThat(r[0]).isEqualTo("failed");
        assertThat(r[2]).contains("authz check", "is denied");
    }

    @Test
    void aDestinationWithoutTheGivenNameIsRefusedByTheSource() throws Exception {
        String srcId = UUID.randomUUID().toString();
        String[] r = migrate(host(srcId, "127.0.0.1"), "10.0.0.9", host(UUID.randomUUID().toString(),
                "127.0.0.1"), srcId);
        assertThat(r[0]).isEqualTo("failed");
    }

    @Test
    void badPeerNamesAreRefusedBeforeQemuSeesThem() {
        for (String bad : new String[] {null, "", "HOST-1", "x,O=Other", "../../etc", UUID.randomUUID() + ",CN=x"}) {
            assertThatThrownBy(() -> MigrationTls.checkSourceHost(bad)).isInstanceOf(AgentException.class)
                    .hasMessageContaining("sourceHostId");
        }
        for (String bad : new String[] {null, "", "a b", "x,y", "exec:true", "-opt", "a".repeat(300)}) {
            assertThatThrownBy(() -> MigrationTls.checkHostname(bad)).isInstanceOf(AgentException.class)
                    .hasMessageContaining("tlsHostname");
        }
        assertThat(MigrationTls.checkHostname("10.1.2.3")).isEqualTo("10.1.2.3");
        assertThat(MigrationTls.checkHostname("host-1.example.org")).isEqualTo("host-1.example.org");
        String id = UUID.randomUUID().toString();
        assertThat(MigrationTls.peerIdentity(MigrationTls.checkSourceHost(id))).isEqualTo("CN=host:" + id
                + ",O=Carevisor");
    }
}
