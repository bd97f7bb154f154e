package org.carevisor.manager.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.carevisor.testkit.SyslogServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoint copies reach a real rsyslogd over TCP and UDP; an unusable target is named, never silent. */
class SyslogSinkTest {
    @TempDir
    Path dir;

    @Test
    void checkpointsReachARealSyslogServer() throws Exception {
        try (SyslogServer server = SyslogServer.start(dir.resolve("rsyslog"))) {
            SyslogSink tcp = SyslogSink.parse(server.tcpTarget());
            assertThat(tcp.send(SyslogSink.NOTICE, "audit-checkpoint", "{\"type\":\"carevisor-audit-checkpoint\","
                    + "\"seq\":41}")).as(tcp.lastError()).isTrue();
            String line = server.await("\"seq\":41", Duration.ofSeconds(30));
            assertThat(line).startsWith("auth.notice carevisor-manager audit-checkpoint ");
            SyslogSink udp = SyslogSink.parse(server.udpTarget());
            assertThat(udp.send(SyslogSink.CRIT, "audit-alarm", "{\"type\":\"carevisor-audit-alarm\"}")).isTrue();
            assertThat(server.await("carevisor-audit-alarm", Duration.ofSeconds(30))).startsWith("auth.crit");
        }
    }

    @Test
    void anUnusableTargetIsNamed() {
        SyslogSink closed = SyslogSink.parse("tcp://127.0.0.1:1");
        assertThat(closed.send(SyslogSink.NOTICE, "audit-checkpoint", "x")).isFalse();
        assertThat(closed.lastError()).contains("tcp://127.0.0.1:1");
        assertThat(closed.remote()).isTrue();
        if (!Files.exists(Path.of("/dev/log"))) {
            SyslogSink local = SyslogSink.parse("local");
            assertThat(local.send(SyslogSink.NOTICE, "audit-checkpoint", "x")).isFalse();
            assertThat(local.lastError()).contains("/dev/log");
        }
        assertThat(SyslogSink.parse("none").send(SyslogSink.NOTICE, "x", "y")).isTrue();
        assertThatThrownBy(() -> SyslogSink.parse("file:///etc/passwd")).hasMessageContaining("--audit-syslog");
        assertThatThrownBy(() -> SyslogSink.parse("udp://127.0.0.1:70000")).hasMessageContaining("--audit-syslog");
    }
}
