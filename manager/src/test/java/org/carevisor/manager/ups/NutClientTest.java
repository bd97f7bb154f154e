package org.carevisor.manager.ups;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.carevisor.testkit.NutServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The NUT client against Debian's real upsd with the dummy-ups driver (status changes as from a real UPS), and
 * against a hostile server (a fake, named as one: it sends what a real upsd never would).
 */
class NutClientTest {
    @TempDir
    static Path dir;
    private static NutServer nut;
    private final NutClient client = new NutClient(Duration.ofSeconds(2));

    @BeforeAll
    static void start() throws IOException {
        nut = NutServer.start(dir.resolve("nut"), "serverroom");
    }

    @AfterAll
    static void stop() {
        if (nut != null) {
            nut.close();
        }
    }

    @Test
    void readsARealUpsThroughItsChanges() throws Exception {
        UpsTarget ups = UpsTarget.parse(nut.target());
        NutClient.Reading r = client.read(ups);
        assertThat(r.flags()).containsExactly("OL");
        assertThat(r.chargePercent()).isEqualTo(100);
        assertThat(r.runtimeSeconds()).isEqualTo(3600);
        nut.status("OB LB", 8, 90);
        nut.awaitStatus("OB LB");
        r = client.read(ups);
        assertThat(r.onBattery()).isTrue();
        assertThat(r.batteryLow()).isTrue();
        assertThat(r.online()).isFalse();
        assertThat(r.flags()).containsExactly("OB", "LB");
        assertThat(r.chargePercent()).isEqualTo(8);
        nut.status("OL", 100, 3600);
        nut.awaitStatus("OL");
    }

    @Test
    void anUnknownUpsIsNamed() {
        assertThatThrownBy(() -> client.read(UpsTarget.parse("nope@127.0.0.1:" + nut.port())))
                .isInstanceOf(NutClient.NutException.class).hasMessageContaining("UNKNOWN-UPS")
                .hasMessageContaining("no UPS of that name");
    }

    @Test
    void aClosedPortIsUnreachable() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        assertThatThrownBy(() -> client.read(UpsTarget.parse("u@127.0.0.1:" + port)))
                .isInstanceOf(NutClient.NutException.class).hasMessageContaining("cannot reach upsd");
    }

    @Test
    void aHostileServerIsRefused() throws Exception {
        assertThat(fake("VAR u ups.status \"" + "A".repeat(600) + "\"\n")).contains("longer than 512 bytes");
        assertThat(fake("VAR other ups.status \"OL\"\n")).contains("unexpected answer");
        assertThat(fake("VAR u ups.status \"OL; rm -rf\"\n")).contains("not NUT's");
        assertThat(fake("")).contains("did not answer");
        assertThat(fake(null)).contains("closed the connection");
    }

    @Test
    void aServerDribblingBytesIsCutOffAtTheDeadline() throws Exception {
        // a fake upsd (fault injection) that sends one byte every 200 ms: each read succeeds, the exchange must not
        try (ServerSocket server = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Thread t = Thread.ofVirtual().start(() -> {
                try (Socket s = server.accept()) {
                    s.getInputStream().read(new byte[64]);
                    for (int i = 0; i < 400; i++) {
                        s.getOutputStream().write('V');
                        s.getOutputStream().flush();
                        Thread.sleep(200);
                    }
                } catch (IOException | InterruptedException e) {
                    // the client gave up
                }
            });
            try { // without one deadline for the exchange it would end after 100 s with "longer than 512 bytes"
                assertThatThrownBy(() -> new NutClient(Duration.ofMillis(800)).read(UpsTarget.parse("u@127.0.0.1:"
                        + server.getLocalPort()))).isInstanceOf(NutClient.NutException.class)
                        .hasMessageContaining("did not answer within 800 ms");
            } finally {
                t.interrupt();
            }
        }
    }

    /** A fake upsd (fault injection): answers the first request with {@code answer}, or hangs, or closes. */
    private String fake(String answer) throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Thread t = Thread.ofVirtual().start(() -> {
                try (Socket s = server.accept()) {
                    s.getInputStream().read(new byte[64]);
                    if (answer == null) {
                        return;
                    }
                    s.getOutputStream().write(answer.getBytes(StandardCharsets.US_ASCII));
                    Thread.sleep(3000);
                } catch (IOException | InterruptedException e) {
                    // the client gave up
                }
            });
            try {
                new NutClient(Duration.ofMillis(800)).read(UpsTarget.parse("u@127.0.0.1:" + server.getLocalPort()));
                return "no error";
            } catch (NutClient.NutException e) {
                return e.getMessage();
            } finally {
                t.interrupt();
            }
        }
    }
}
