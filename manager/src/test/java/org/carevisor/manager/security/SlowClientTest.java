package org.carevisor.manager.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLSocket;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.JavaProcess;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real manager program, with the JVM options ./carevisor uses (jvm/manager.options): a client that starts an
 * enrollment and then sends its body a byte at a time is dropped by the agent listener instead of holding one
 * of the bounded enrollment slots for ever.
 */
class SlowClientTest {
    @TempDir
    Path dir;

    @Test
    void aSlowlySentEnrollmentIsDropped() throws Exception {
        Path data = dir.resolve("m/manager");
        try (JavaProcess m = JavaProcess.start("manager", "org.carevisor.manager.ManagerMain",
                List.of("--data-dir", data.toString(), "--port", "0", "--agent-port", "0", "--audit-syslog", "none"),
                dir.resolve("manager.log"), List.of(), java.util.Map.of("CAREVISOR_ADMIN_PASSWORD", "Slow-Client-2026!"))) {
            String agentUrl = Poll.until(Duration.ofSeconds(60), "the manager to start", () -> {
                try {
                    return Files.exists(data.resolve("manager.url")) ? Files.readString(data.resolve("agent.url")).strip()
                            : null;
                } catch (java.io.IOException e) {
                    return null;
                }
            });
            int port = Integer.parseInt(agentUrl.replaceAll(".*:(\\d+)/?$", "$1"));
            try (SSLSocket s = (SSLSocket) Http.sslContext(data.resolve("pki/ca.crt")).getSocketFactory()
                    .createSocket("127.0.0.1", port)) {
                s.startHandshake();
                OutputStream out = s.getOutputStream();
                out.write(("POST /agent/v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        + "Content-Length: 4000\r\n\r\n{").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                s.setSoTimeout(1000);
                InputStream in = s.getInputStream();
                // a byte every second, far slower than any real agent; the listener gives a request 30 s in all
                boolean dropped = false;
                for (int i = 0; i < 90 && !dropped; i++) {
                    try {
                        out.write(' ');
                        out.flush();
                        if (in.read() < 0) {
                            dropped = true;
                        }
                    } catch (java.net.SocketTimeoutException e) {
                        // nothing to read yet: keep trickling
                    } catch (java.io.IOException e) {
                        dropped = true; // reset by the server
                    }
                }
                assertThat(dropped).as("the listener dropped the slow client").isTrue();
            }
        }
    }
}
