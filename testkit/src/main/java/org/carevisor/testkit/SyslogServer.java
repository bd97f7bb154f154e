package org.carevisor.testkit;

import java.io.File;
import java.io.IOException;
import java.net.DatagramSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real syslog server for tests: Debian's {@code rsyslogd} in the foreground with a configuration of its own,
 * listening on 127.0.0.1 only (TCP on a port it chooses, UDP on a free port), writing every message it receives
 * to {@code messages} in its directory. Nothing of the system's syslog is touched (no /dev/log, no
 * /etc/rsyslog.conf). Fails with a clear message when rsyslog is not installed. {@link #close()} stops it.
 */
public final class SyslogServer implements AutoCloseable {
    private final Path dir;
    private final Process process;
    private final int tcpPort;
    private final int udpPort;

    private SyslogServer(Path dir, Process process, int tcpPort, int udpPort) {
        this.dir = dir;
        this.process = process;
        this.tcpPort = tcpPort;
        this.udpPort = udpPort;
    }

    /** Starts rsyslogd with its state, configuration and received messages under {@code dir}. */
    public static SyslogServer start(Path dir) throws IOException {
        Path rsyslogd = Path.of("/usr/sbin/rsyslogd");
        if (!Files.isExecutable(rsyslogd)) {
            throw new IllegalStateException("rsyslogd is not installed: apt-get install rsyslog (./carevisor test"
                    + " installs it)");
        }
        Files.createDirectories(dir);
        int udp;
        try (DatagramSocket s = new DatagramSocket(0, java.net.InetAddress.getLoopbackAddress())) {
            udp = s.getLocalPort();
        }
        Path portFile = dir.resolve("tcp.port");
        Files.deleteIfExists(portFile);
        Path config = dir.resolve("rsyslog.conf");
        Files.writeString(config, """
                global(workDirectory="%1$s")
                module(load="imtcp")
                module(load="imudp")
                input(type="imtcp" address="127.0.0.1" port="0" listenPortFileName="%2$s")
                input(type="imudp" address="127.0.0.1" port="%3$d")
                template(name="received" type="string" string="%%syslogfacility-text%%.%%syslogseverity-text%% %%app-name%% %%msgid%% %%msg%%\\n")
                *.* action(type="omfile" file="%4$s" template="received")
                """.formatted(dir, portFile, udp, dir.resolve("messages")), StandardCharsets.UTF_8);
        Process p = new ProcessBuilder(rsyslogd.toString(), "-n", "-f", config.toString(), "-i",
                dir.resolve("rsyslogd.pid").toString()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("rsyslogd.log").toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            String port = Poll.until(Duration.ofSeconds(30), "rsyslogd to listen (see " + dir.resolve("rsyslogd.log")
                    + ")", () -> {
                        if (!p.isAlive()) {
                            throw new IllegalStateException("rsyslogd exited; see " + dir.resolve("rsyslogd.log"));
                        }
                        try {
                            String t = Files.exists(portFile) ? Files.readString(portFile).strip() : "";
                            return t.isEmpty() ? null : t;
                        } catch (IOException e) {
                            return null;
                        }
                    });
            return new SyslogServer(dir, p, Integer.parseInt(port), udp);
        } catch (RuntimeException e) {
            p.destroyForcibly();
            throw e;
        }
    }

    /** The manager option value for TCP: {@code tcp://127.0.0.1:PORT}. */
    public String tcpTarget() {
        return "tcp://127.0.0.1:" + tcpPort;
    }

    /** The manager option value for UDP: {@code udp://127.0.0.1:PORT}. */
    public String udpTarget() {
        return "udp://127.0.0.1:" + udpPort;
    }

    /** The messages received so far, one line each: {@code facility.severity app msgid message}. */
    public List<String> messages() throws IOException {
        Path f = dir.resolve("messages");
        return Files.exists(f) ? Files.readAllLines(f, StandardCharsets.UTF_8) : List.of();
    }

    /** Waits until a received message contains {@code text}; returns that message. */
    public String await(String text, Duration limit) {
        return Poll.until(limit, "syslog to receive a message with " + text, () -> {
            try {
                return messages().stream().filter(m -> m.contains(text)).findFirst().orElse(null);
            } catch (IOException e) {
                return null;
            }
        });
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
