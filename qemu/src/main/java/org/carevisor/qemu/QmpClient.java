package org.carevisor.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.carevisor.protocol.ProtocolJson;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A client of one QEMU monitor (QMP) over a unix socket: commands with per-command time limits
 * ({@link QmpTimeouts}) and events delivered to a listener. Thread-safe: commands may be sent from
 * any thread; events and the close callback run on the client's reader thread and must not block.
 * The close callback runs only when the connection ends without {@link #close()} (QEMU exited).
 */
public final class QmpClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QmpClient.class);
    private static final ObjectMapper JSON = ProtocolJson.mapper();

    private final SocketChannel channel;
    private final BufferedReader reader;
    private final String label;
    private final Consumer<QmpEvent> events;
    private final Runnable onClose;
    private final Map<Long, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean closedByUs = new AtomicBoolean();
    private final CompletableFuture<JsonNode> greeting = new CompletableFuture<>();
    private final Object writeLock = new Object();
    private volatile String closeReason = "not closed";

    private QmpClient(SocketChannel channel, String label, Consumer<QmpEvent> events, Runnable onClose) {
        this.channel = channel;
        this.label = label;
        this.events = events;
        this.onClose = onClose;
        this.reader = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel),
                StandardCharsets.UTF_8));
    }

    /**
     * Connects to a QMP socket, reads the greeting and negotiates capabilities.
     *
     * @param socket  the monitor's unix socket
     * @param label   name used in log lines and errors (e.g. the VM name)
     * @param events  receives every event; called on the reader thread
     * @param onClose called once when the connection ends for any reason; called on the reader thread
     */
    public static QmpClient connect(Path socket, String label, Consumer<QmpEvent> events, Runnable onClose) {
        SocketChannel channel;
        try {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            throw QmpException.connectFailed("cannot connect to QMP socket " + socket + ": " + e.getMessage(), e);
        }
        QmpClient client = new QmpClient(channel, label, events == null ? e -> { } : events,
                onClose == null ? () -> { } : onClose);
        Thread.ofPlatform().daemon().name("qmp-" + label).start(client::readLoop);
        try {
            client.greeting.get(QmpTimeouts.forCommand("qmp_capabilities").timeout().toMillis(),
                    TimeUnit.MILLISECONDS);
            client.execute("qmp_capabilities", null);
            return client;
        } catch (TimeoutException e) {
            client.close();
            throw QmpException.connectFailed("no QMP greeting from " + socket, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            client.close();
            throw QmpException.connectFailed("interrupted while connecting to " + socket, e);
        } catch (ExecutionException e) {
            client.close();
            throw QmpException.connectFailed("QMP handshake with " + socket + " failed: "
                    + e.getCause().getMessage(), e.getCause());
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
    }

    /** Runs a command with its limit from {@link QmpTimeouts} and returns its {@code return} value. */
    public JsonNode execute(String command, Map<String, ?> arguments) {
        return execute(command, arguments, QmpTimeouts.forCommand(command));
    }

    /** Runs a command with an explicit limit and returns its {@code return} value. */
    public JsonNode execute(String command, Map<String, ?> arguments, QmpTimeouts.Limit limit) {
        if (closed.get()) {
            throw QmpException.disconnected(closeReason, null);
        }
        long id = ids.incrementAndGet();
        ObjectNode request = JSON.createObjectNode();
        request.put("execute", command);
        if (arguments != null && !arguments.isEmpty()) {
            request.set("arguments", JSON.valueToTree(arguments));
        }
        request.put("id", id);
        CompletableFuture<JsonNode> answer = new CompletableFuture<>();
        pending.put(id, answer);
        try {
            byte[] bytes = (JSON.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8);
            synchronized (writeLock) {
                ByteBuffer buffer = ByteBuffer.wrap(bytes);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            }
            JsonNode response = answer.get(limit.timeout().toMillis(), TimeUnit.MILLISECONDS);
            JsonNode error = response.get("error");
            if (error != null) {
                throw QmpException.commandFailed(command, error.path("class").asText(),
                        error.path("desc").asText());
            }
            return response.path("return");
        } catch (IOException e) {
            throw QmpException.disconnected("sending " + command + " failed: " + e.getMessage(), e);
        } catch (TimeoutException e) {
            throw QmpException.timeout(command, limit);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw QmpException.disconnected("interrupted while waiting for " + command, e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof QmpException q ? q
                    : QmpException.disconnected(String.valueOf(e.getCause()), e.getCause());
        } finally {
            pending.remove(id);
        }
    }

    /**
     * Runs a command that starts a background job ({@code snapshot-save}, {@code snapshot-load},
     * {@code snapshot-delete}), waits until the job has concluded, dismisses it and fails with the job's error.
     */
    public void runJob(String command, Map<String, ?> arguments, String jobId, java.time.Duration limit) {
        java.util.Map<String, Object> args = new java.util.LinkedHashMap<>(arguments);
        args.put("job-id", jobId);
        execute(command, args);
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            JsonNode job = null;
            for (JsonNode j : execute("query-jobs", null)) {
                if (jobId.equals(j.path("id").asText())) {
                    job = j;
                }
            }
            String status = job == null ? "null" : job.path("status").asText();
            if (status.equals("concluded") || status.equals("null")) {
                String error = job == null ? null : job.path("error").asText(null);
                if (job != null) {
                    execute("job-dismiss", Map.of("id", jobId));
                }
                if (error != null) {
                    throw QmpException.commandFailed(command, "JobFailed", error);
                }
                return;
            }
            if (System.nanoTime() > deadline) {
                throw QmpException.timeout(command, new QmpTimeouts.Limit(limit, "the " + command
                        + " job did not conclude in time"));
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw QmpException.disconnected("interrupted while waiting for job " + jobId, e);
            }
        }
    }

    /** True until the connection ended. */
    public boolean isOpen() {
        return !closed.get();
    }

    private void readLoop() {
        String reason = "QEMU closed the monitor (process exited)";
        try {
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                dispatch(JSON.readTree(line));
            }
        } catch (IOException e) {
            reason = closed.get() ? closeReason : "monitor read failed: " + e.getMessage();
        } catch (RuntimeException e) {
            LOG.warn("QMP reader for {} failed", label, e);
            reason = "monitor reader failed: " + e;
        }
        finish(reason);
    }

    private void dispatch(JsonNode message) {
        if (message.has("QMP")) {
            greeting.complete(message);
        } else if (message.has("event")) {
            JsonNode ts = message.path("timestamp");
            Instant when = ts.has("seconds")
                    ? Instant.ofEpochSecond(ts.path("seconds").asLong(), ts.path("microseconds").asLong() * 1000)
                    : Instant.now();
            JsonNode data = message.has("data") ? message.get("data") : JSON.createObjectNode();
            try {
                events.accept(new QmpEvent(message.get("event").asText(), data, when));
            } catch (RuntimeException e) {
                LOG.warn("QMP event listener for {} failed on {}", label, message, e);
            }
        } else if (message.has("id")) {
            CompletableFuture<JsonNode> answer = pending.get(message.get("id").asLong());
            if (answer != null) {
                answer.complete(message);
            }
        } else {
            LOG.debug("QMP {}: unexpected message {}", label, message);
        }
    }

    private void finish(String reason) {
        if (!closed.getAndSet(true)) {
            closeReason = reason;
        }
        QmpException gone = QmpException.disconnected(closeReason, null);
        greeting.completeExceptionally(gone);
        pending.values().forEach(f -> f.completeExceptionally(gone));
        try {
            channel.close();
        } catch (IOException ignored) {
            // already closing
        }
        if (closedByUs.get()) {
            return;
        }
        try {
            onClose.run();
        } catch (RuntimeException e) {
            LOG.warn("QMP close callback for {} failed", label, e);
        }
    }

    /** Closes the connection; QEMU keeps running and the close callback is not called. */
    @Override
    public void close() {
        closedByUs.set(true);
        if (!closed.getAndSet(true)) {
            closeReason = "closed by Carevisor";
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing left to do
        }
    }
}
