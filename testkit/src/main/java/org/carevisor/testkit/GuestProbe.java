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
    /** What the guest reports about itself. */
    public record Status(String bootId, long counter, String uuid, String mac, long diskCounter, long bootCount) {
    }

    private final String base;

    public GuestProbe(String host, int port) {
        this.base = "http://" + host + ":" + port;
    }

    public Status status() throws IOException {
        return status(2000);
    }

    private Status status(int timeoutMillis) throws IOException {
        JsonNode n = Http.json().readTree(request("GET", "/cgi-bin/status", timeoutMillis));
        return new Status(n.path("bootId").asText(), n.path("counter").asLong(), n.path("uuid").asText(),
                n.path("mac").asText(), n.path("diskCounter").asLong(), n.path("bootCount").asLong());
    }

    /** Increments the counter kept on the guest's disk (flushed before the answer); returns the new value. */
    public long incrementDiskCounter() throws IOException {
        return Http.json().readTree(request("POST", "/cgi-bin/disk-counter", 5000)).path("diskCounter").asLong();
    }

    /** Sets the counter kept on the guest's disk (flushed before the answer); returns the new value. */
    public long setDiskCounter(long value) throws IOException {
        return Http.json().readTree(request("POST", "/cgi-bin/disk-counter?set=" + value, 5000)).path("diskCounter")
                .asLong();
    }

    /** Asks the guest itself to power off (as if an administrator ran poweroff inside it). */
    public void powerOffFromInside() throws IOException {
        request("POST", "/cgi-bin/power?action=poweroff", 5000, 202);
    }

    /**
     * Waits until the guest's service answers. Polls with short timeouts: user-mode networking accepts the
     * connection on the host before the guest listens, and such a request only hangs.
     */
    public Status awaitReady(Duration limit) {
        return Poll.until(limit, Duration.ofMillis(50), "guest service at " + base, () -> {
            try {
                return status(300);
            } catch (IOException e) {
                return null;
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
