package org.carevisor.manager.ha;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Health checks against a real HTTP server on loopback. The executor runs each probe on the calling thread, so
 * the outcome is known when {@code due} returns; the "hung probe" case uses an executor that never runs the
 * probe (a fake: a probe that does not come back cannot be made on purpose, its timeouts are 3 s).
 */
class HealthChecksTest {
    private static final Instant T0 = Instant.parse("2026-11-22T08:00:00Z");
    private static final Instant BOOT = Instant.parse("2026-11-22T07:59:00Z");
    private static final VmHa HA = new VmHa(true, 50, List.of(), "http:80/health", 1, 2, 3);

    private HttpServer server;
    private HealthChecks.Address address;
    private final List<String> failed = new ArrayList<>();
    private boolean swallow;
    private final Executor executor = task -> {
        if (!swallow) {
            task.run();
        }
    };
    private final HealthChecks checks = new HealthChecks(executor);

    @BeforeEach
    void startServer() {
        startServer(0);
        address = new HealthChecks.Address("http", "127.0.0.1", server.getAddress().getPort(), "/health");
    }

    @AfterEach
    void stopServer() {
        server.stop(0);
    }

    private void due(Instant startedAt, int second) {
        checks.due("vm-1", startedAt, HA, address, T0.plusSeconds(second), failed::add);
    }

    @Test
    void failuresCountOnlyAfterTheGuestAnsweredAndInARow() {
        server.stop(0); // the guest is still booting: refused connections are not failures yet
        due(BOOT, 0);
        due(BOOT, 1);
        due(BOOT, 2);
        assertThat(failed).isEmpty();

        startServer(address.port());
        due(BOOT, 3); // answers
        server.stop(0);
        due(BOOT, 4); // 1 of 2
        assertThat(failed).isEmpty();
        due(BOOT, 4); // not due again within the interval
        assertThat(failed).isEmpty();
        due(BOOT, 5); // 2 of 2
        assertThat(failed).singleElement().asString().contains("failed 2 time(s) in a row", "/health");

        // after the VM failed, counting waits for the guest to answer again
        due(BOOT, 6);
        due(BOOT, 7);
        assertThat(failed).hasSize(1);
    }

    @Test
    void aNewQemuStartsAfreshAndAProbeThatDoesNotComeBackIsCountedFailed() {
        due(BOOT, 0); // answers
        swallow = true;
        due(BOOT, 1); // this probe never comes back
        due(BOOT, 5);
        assertThat(failed).isEmpty();
        due(BOOT, 12); // abandoned after 10 s: failure 1 of 2
        assertThat(failed).isEmpty();
        due(BOOT, 13); // the next one hangs as well
        due(BOOT, 24);
        assertThat(failed).singleElement().asString().contains("no answer within 10 s");

        // a restarted QEMU: its probes run at once, and its guest must answer before failures count
        swallow = false;
        server.stop(0);
        Instant restarted = BOOT.plusSeconds(120);
        due(restarted, 25);
        due(restarted, 26);
        assertThat(failed).hasSize(1);
    }

    private void startServer(int port) {
        try {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        server.createContext("/health", ex -> {
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        server.start();
    }
}
