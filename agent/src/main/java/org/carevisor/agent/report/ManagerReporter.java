package org.carevisor.agent.report;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.carevisor.protocol.Protocol;
import org.carevisor.protocol.ProtocolJson;
import org.carevisor.protocol.ReportAck;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the heartbeat report to the manager every interval, and at once after a VM state change
 * ({@link #kick()}). The manager answers {@code 200} with a {@link ReportAck} (the HA settings, handed to
 * the {@code acks} consumer) or {@code 204} without a body (nothing new: the previous settings stay).
 * {@link #lastSuccess()} tells when a report last reached the manager, for the HA isolation check. Failures
 * are logged at most every 30 s; the reporter keeps trying. Thread-safe.
 */
public final class ManagerReporter {
    private static final Logger LOG = LoggerFactory.getLogger(ManagerReporter.class);
    private static final Duration LOG_EVERY = Duration.ofSeconds(30);

    private final URI target;
    private final ReportBuilder reports;
    private final Duration interval;
    private final HttpClient http;
    private final Consumer<ReportAck> acks;
    private final Semaphore wake = new Semaphore(0);
    private volatile boolean running = true;
    private volatile Instant lastSuccess;
    private long lastFailureLog;
    private boolean failing;
    private boolean ackWarned;

    /**
     * Reports to {@code managerUrl} presenting the host's certificate from {@code tls}; the manager's acks go
     * to {@code acks} (called on the reporter thread).
     */
    public ManagerReporter(String managerUrl, ReportBuilder reports, Duration interval, javax.net.ssl.SSLContext tls,
                           Consumer<ReportAck> acks) {
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).sslContext(tls).build();
        this.target = URI.create(managerUrl.replaceAll("/+$", "") + "/agent/v1/reports");
        this.reports = reports;
        this.interval = interval;
        this.acks = acks;
    }

    /** When a report last reached the manager (answered with 2xx), or null when none did yet. */
    public Instant lastSuccess() {
        return lastSuccess;
    }

    public void start() {
        Thread.ofPlatform().daemon().name("manager-reporter").start(this::loop);
    }

    /** Sends a report as soon as possible. */
    public void kick() {
        wake.release();
    }

    public void stop() {
        running = false;
        wake.release();
    }

    private void loop() {
        while (running) {
            send();
            try {
                wake.tryAcquire(interval.toMillis(), TimeUnit.MILLISECONDS);
                wake.drainPermits();
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void send() {
        try {
            byte[] body = ProtocolJson.mapper().writeValueAsBytes(reports.build());
            HttpRequest request = HttpRequest.newBuilder(target)
                    .timeout(Duration.ofSeconds(5))
                    .header("Content-Type", "application/json")
                    .header(Protocol.VERSION_HEADER, Integer.toString(Protocol.VERSION))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                    .build();
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() / 100 != 2) {
                failed("manager refused the report: HTTP " + response.statusCode() + " " + response.body());
                return;
            }
            lastSuccess = Instant.now();
            if (failing) {
                failing = false;
                LOG.info("reports reach the manager at {} again", target);
            }
            ack(response);
        } catch (Exception e) {
            failed("cannot reach the manager at " + target + ": " + e);
        }
    }

    /** Hands a {@code 200} answer's ack on; {@code 204} (or an empty body) keeps the previous settings. */
    private void ack(HttpResponse<String> response) {
        if (response.statusCode() == 204 || response.body() == null || response.body().isBlank()) {
            return;
        }
        ReportAck ack;
        try {
            ack = ProtocolJson.mapper().readValue(response.body(), ReportAck.class);
        } catch (java.io.IOException e) {
            if (!ackWarned) {
                ackWarned = true;
                LOG.warn("ignoring the manager's answers to reports, they are not acks: {}", e.getMessage());
            }
            return;
        }
        ackWarned = false;
        acks.accept(ack);
    }

    private void failed(String message) {
        failing = true;
        long now = System.currentTimeMillis();
        if (now - lastFailureLog > LOG_EVERY.toMillis()) {
            lastFailureLog = now;
            LOG.warn("{} (retrying every {} ms)", message, interval.toMillis());
        }
    }
}
