package org.carevisor.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Asks a guest's HTTP service for its status over and over, as a client of the guest's application would,
 * and records what it saw: every answer's boot id, the longest time without an answer, and failed requests.
 *
 * <p>Each attempt has a short time limit ({@code attemptMillis}); an attempt without an answer is repeated at
 * once (a lost packet must not hide the service for a TCP retransmission timeout), and a request counts as
 * failed only when no attempt answers within {@code failMillis}, or when an attempt gets an error (a refused
 * connection, an HTTP error status). The gap is the time between two answers.
 */
public final class ProbeMonitor implements AutoCloseable {
    /** What the probe saw. */
    public record Result(int answers, int failedRequests, long longestGapMillis, List<String> failures,
                         Set<String> bootIds, long firstCounter, long lastCounter) {
    }

    private final String base;
    private final int attemptMillis;
    private final int failMillis;
    private final Thread thread;
    private volatile boolean running = true;
    private int answers;
    private int failed;
    private long longestGap;
    private final List<String> failures = new ArrayList<>();
    private final Set<String> bootIds = new LinkedHashSet<>();
    private long firstCounter = -1;
    private long lastCounter = -1;

    private final boolean status;

    private ProbeMonitor(String host, int port, String path, int attemptMillis, int failMillis) {
        this.base = "http://" + host + ":" + port + path;
        this.status = path.equals("/cgi-bin/status");
        this.attemptMillis = attemptMillis;
        this.failMillis = failMillis;
        this.thread = Thread.ofPlatform().daemon().name("probe-" + host).start(this::loop);
    }

    /** Starts probing the guest's status at {@code host:port}; stop it with {@link #stop()}. */
    public static ProbeMonitor start(String host, int port) {
        return new ProbeMonitor(host, port, "/cgi-bin/status", 250, 5000);
    }

    /**
     * Probes another path (e.g. the static page {@code /}, which the guest serves without starting a CGI
     * program, so a shorter attempt limit measures the gap more finely); boot ids are then not read.
     */
    public static ProbeMonitor start(String host, int port, String path, int attemptMillis) {
        return new ProbeMonitor(host, port, path, attemptMillis, 5000);
    }

    private void loop() {
        long lastAnswer = System.nanoTime();
        long requestStart = System.nanoTime();
        while (running) {
            try {
                String body = attempt();
                long now = System.nanoTime();
                JsonNode json = status ? Http.json().readTree(body) : null;
                synchronized (this) {
                    answers++;
                    longestGap = Math.max(longestGap, (now - lastAnswer) / 1_000_000);
                    if (json != null) {
                        bootIds.add(json.path("bootId").asText());
                        long counter = json.path("counter").asLong();
                        if (firstCounter < 0) {
                            firstCounter = counter;
                        }
                        lastCounter = counter;
                    }
                }
                lastAnswer = now;
                requestStart = now;
                sleep(20);
            } catch (SocketTimeoutException e) {
                if (System.nanoTime() - requestStart > failMillis * 1_000_000L) {
                    fail("no answer within " + failMillis + " ms");
                    requestStart = System.nanoTime();
                }
            } catch (IOException e) {
                fail(e.toString());
                requestStart = System.nanoTime();
                sleep(50);
            }
        }
    }

    private synchronized void fail(String why) {
        failed++;
        if (failures.size() < 20) {
            failures.add(java.time.Instant.now() + " " + why);
        }
    }

    private String attempt() throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create(base).toURL().openConnection();
        c.setConnectTimeout(attemptMillis);
        c.setReadTimeout(attemptMillis);
        try {
            int code = c.getResponseCode();
            if (code != 200) {
                throw new IOException("HTTP " + code);
            }
            return new String(c.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } finally {
            c.disconnect();
        }
    }

    /** Stops probing and returns what was seen. */
    public Result stop() {
        close();
        return snapshot();
    }

    /** What was seen so far. */
    public synchronized Result snapshot() {
        return new Result(answers, failed, longestGap, List.copyOf(failures), new LinkedHashSet<>(bootIds), firstCounter,
                lastCounter);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
