package org.carevisor.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Talks QMP to a real QEMU process (started paused, so no guest code runs). */
class QmpClientTest {
    @TempDir
    Path dir;
    private Process qemu;

    @AfterEach
    void stopQemu() throws InterruptedException {
        QemuTestSupport.kill(qemu);
    }

    private Path startQemu() throws Exception {
        Path socket = dir.resolve("qmp.sock");
        qemu = QemuTestSupport.start(dir.resolve("qemu.log"), "qemu-system-x86_64", "-accel", "tcg", "-machine", "pc",
                "-nodefaults", "-no-user-config", "-display", "none", "-m", "32", "-S",
                "-chardev", "socket,id=qmp,path=" + socket + ",server=on,wait=off", "-mon", "chardev=qmp,mode=control");
        QemuTestSupport.waitForFile(socket, 10_000);
        return socket;
    }

    @Test
    void commandsEventsAndErrors() throws Exception {
        Path socket = startQemu();
        List<QmpEvent> events = new CopyOnWriteArrayList<>();
        CountDownLatch closed = new CountDownLatch(1);
        try (QmpClient qmp = QmpClient.connect(socket, "test", events::add, closed::countDown)) {
            JsonNode status = qmp.execute("query-status", null);
            assertThat(status.path("status").asText()).isEqualTo("prelaunch");
            assertThat(status.path("running").asBoolean()).isFalse();

            qmp.execute("cont", null);
            assertThat(qmp.execute("query-status", null).path("status").asText()).isEqualTo("running");
            qmp.execute("stop", null);
            assertThat(qmp.execute("query-status", null).path("status").asText()).isEqualTo("paused");
            long deadline = System.currentTimeMillis() + 5000;
            while (events.stream().noneMatch(e -> e.name().equals("STOP")) && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            assertThat(events).extracting(QmpEvent::name).contains("RESUME", "STOP");

            assertThatThrownBy(() -> qmp.execute("no-such-command", null))
                    .isInstanceOf(QmpException.class)
                    .satisfies(e -> assertThat(((QmpException) e).errorClass()).isEqualTo("CommandNotFound"))
                    .hasMessageContaining("no-such-command");

            qmp.execute("quit", null);
            assertThat(closed.await(10, TimeUnit.SECONDS)).as("close callback after QEMU quit").isTrue();
            assertThat(qmp.isOpen()).isFalse();
            assertThatThrownBy(() -> qmp.execute("query-status", null))
                    .isInstanceOf(QmpException.class)
                    .satisfies(e -> assertThat(((QmpException) e).code()).isEqualTo("qmp-disconnected"));
        }
        assertThat(qemu.waitFor(10, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void killedQemuClosesConnectionAndFailsPendingCommands() throws Exception {
        Path socket = startQemu();
        CountDownLatch closed = new CountDownLatch(1);
        try (QmpClient qmp = QmpClient.connect(socket, "test", e -> { }, closed::countDown)) {
            qemu.destroyForcibly();
            assertThat(closed.await(10, TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(() -> qmp.execute("query-status", null)).isInstanceOf(QmpException.class);
        }
    }

    @Test
    void deliberateCloseDoesNotReportQemuGone() throws Exception {
        Path socket = startQemu();
        CountDownLatch closed = new CountDownLatch(1);
        QmpClient qmp = QmpClient.connect(socket, "test", e -> { }, closed::countDown);
        qmp.close();
        assertThat(closed.await(500, TimeUnit.MILLISECONDS)).isFalse();
        assertThat(qemu.isAlive()).isTrue();
        // a second client can connect: QEMU accepts a new monitor connection after the first left
        try (QmpClient again = QmpClient.connect(socket, "test2", e -> { }, null)) {
            assertThat(again.execute("query-status", null).path("status").asText()).isEqualTo("prelaunch");
        }
    }

    @Test
    void connectToMissingSocketNamesIt() {
        Path missing = dir.resolve("nothing.sock");
        assertThatThrownBy(() -> QmpClient.connect(missing, "x", null, null))
                .isInstanceOf(QmpException.class)
                .hasMessageContaining(missing.toString());
    }

    @Test
    void everyLimitHasAReason() {
        for (String c : List.of("query-status", "stop", "cont", "quit", "system_powerdown", "anything-else")) {
            QmpTimeouts.Limit limit = QmpTimeouts.forCommand(c);
            assertThat(limit.reason()).isNotBlank();
            assertThat(limit.timeout()).isPositive();
        }
    }
}
