package org.carevisor.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Talks to the guest appliance's HTTP service through a forwarded host port: its boot id, in-memory
 * counter, SMBIOS UUID, MAC and on-disk counter.
 */
public final class GuestProbe {
    /**
     * What the guest reports about itself; {@code diskError} is empty unless it could not read its data partition
     * (its counters then read 0).
     */
    public record Status(String bootId, long counter, String uuid, String mac, long diskCounter, long bootCount,
                         String diskError) {
    }

    private final String base;

    public GuestProbe(String host, int port) {
        this.base = "http://" + host + ":" + port;
    }

    public Status status() throws IOException {
        return status(2000);
    }

    private Status status(int timeoutMillis) throws IOException {
        JsonNode n = answer(request("GET", "/cgi-bin/status", timeoutMillis), "bootId");
        return new Status(n.path("bootId").asText(), n.path("counter").asLong(), n.path("uuid").asText(),
                n.path("mac").asText(), n.path("diskCounter").asLong(), n.path("bootCount").asLong(),
                n.path("diskError").asText(""));
    }

    /** Increments the counter kept on the guest's disk (flushed before the answer); returns the new value. */
    public long incrementDiskCounter() throws IOException {
        return answer(request("POST", "/cgi-bin/disk-counter", 5000), "diskCounter").path("diskCounter").asLong();
    }

    /** Sets the counter kept on the guest's disk (flushed before the answer); returns the new value. */
    public long setDiskCounter(long value) throws IOException {
        return answer(request("POST", "/cgi-bin/disk-counter?set=" + value, 5000), "diskCounter").path("diskCounter")
                .asLong();
    }

    /**
     * The guest's JSON answer, which must hold {@code field}: a guest that shuts down ends its web server while a
     * CGI answers, and the client sees "200" with an empty or cut body; that is no answer (not a counter of 0).
     */
    private JsonNode answer(String body, String field) throws IOException {
        JsonNode n;
        try {
            n = Http.json().readTree(body);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            n = null;
        }
        if (n == null || !n.isObject() || !n.hasNonNull(field) || n.path(field).asText().isEmpty()) {
            throw new IOException("incomplete answer from the guest at " + base + " (is it shutting down?): "
                    + (body.length() > 200 ? body.substring(0, 200) + "..." : body));
        }
        return n;
    }

    /** Asks the guest itself to power off (as if an administrator ran poweroff inside it). */
    public void powerOffFromInside() throws IOException {
        request("POST", "/cgi-bin/power?action=poweroff", 5000, 202);
    }

    /** Makes the guest's kernel panic about 0.5 s later (the appliance's sysrq 'c'), as a guest that dies inside. */
    public void panicFromInside() throws IOException {
        request("POST", "/cgi-bin/power?action=panic", 5000, 202);
    }

    /**
     * Waits until the guest's service answers. User-mode networking accepts the connection on the host before the
     * guest listens, and such a request only hangs, so the first attempts time out quickly (300 ms); each timeout
     * doubles the next attempt's (up to 1.5 s). A fixed short timeout starved busy guests: with four guests booting
     * on two cores one answer takes about 300 ms, every request was given up before its answer and sent again,
     * and the guest worked through hundreds of abandoned requests while no new one could wait long enough
     * (bench/vm-start.sh's "4 at once" series timed out after 120 s that way; see docs/benchmarks.md).
     */
    public Status awaitReady(Duration limit) {
        int[] timeout = {300};
        return Poll.until(limit, Duration.ofMillis(50), "guest service at " + base, () -> {
            try {
                return status(timeout[0]);
            } catch (java.net.SocketTimeoutException e) {
                timeout[0] = Math.min(1500, timeout[0] * 2);
                return null;
            } catch (IOException e) {
                return null; // refused or reset: nothing waited, try again soon
            }
        });
    }

    private String request(String method, String path, int timeoutMillis) throws IOException {
        return request(method, path, timeoutMillis, 200);
    }

    private String request(String method, String path, int timeoutMillis, int expected) throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create(base + path).toURL().openConnection();
        c.setRequestMethod(method);
        c.setConnectTimeout(timeoutMillis);
        c.setReadTimeout(timeoutMillis);
        if (method.equals("POST")) {
            c.setDoOutput(true);
            c.getOutputStream().close();
        }
        try {
            int code = c.getResponseCode();
            if (code != expected) {
                throw new IOException("guest answered HTTP " + code + " for " + path);
            }
            return new String(c.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } finally {
            c.disconnect();
        }
    }
}
