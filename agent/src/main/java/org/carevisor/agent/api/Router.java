package org.carevisor.agent.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.AgentProblem;
import org.carevisor.protocol.Protocol;
import org.carevisor.protocol.ProtocolJson;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dispatches agent API requests to handlers by method and path pattern, checks the protocol version and
 * writes JSON answers and {@link AgentProblem} errors. Thread-safe after the routes are added.
 */
public final class Router implements HttpHandler {
    private static final Logger LOG = LoggerFactory.getLogger(Router.class);
    private static final ObjectMapper JSON = ProtocolJson.mapper();

    /** Handles one request; returns the response body (null: 204 No Content). */
    @FunctionalInterface
    public interface Handler {
        Object handle(Request request) throws Exception;
    }

    /** A matched request: path parameters, query and body. */
    public record Request(HttpExchange exchange, Matcher path) {
        public String param(int group) {
            return path.group(group);
        }

        public <T> T body(Class<T> type) {
            try {
                byte[] bytes = boundedBody(exchange);
                if (bytes.length == 0) {
                    throw AgentException.badRequest("body-missing", "this request needs a JSON body ("
                            + type.getSimpleName() + ")");
                }
                return JSON.readValue(bytes, type);
            } catch (JsonProcessingException e) {
                throw AgentException.badRequest("malformed-json", "request body is not a valid "
                        + type.getSimpleName() + ": " + e.getOriginalMessage());
            } catch (IOException e) {
                throw AgentException.badRequest("body-unreadable", e.getMessage());
            }
        }

        public String query(String name) {
            String raw = exchange.getRequestURI().getRawQuery();
            if (raw == null) {
                return null;
            }
            Map<String, String> values = new HashMap<>();
            for (String pair : raw.split("&")) {
                int eq = pair.indexOf('=');
                String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                values.put(k, v);
            }
            return values.get(name);
        }
    }

    private record Route(String method, Pattern pattern, Handler handler) {
    }

    /**
     * The largest request body the agent reads (a VM spec or an export request is a few KiB); a larger one is
     * refused with 413 {@code body-too-large} before it is parsed, by its Content-Length when it has one.
     */
    public static final int MAX_BODY_BYTES = 1 << 20;

    /** The request body, at most {@link #MAX_BODY_BYTES}. */
    static byte[] boundedBody(HttpExchange exchange) throws IOException {
        String length = exchange.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            long declared;
            try {
                declared = Long.parseLong(length.strip());
            } catch (NumberFormatException e) {
                throw AgentException.badRequest("invalid-content-length", "Content-Length '" + length
                        + "' is not a number");
            }
            if (declared > MAX_BODY_BYTES) {
                throw tooLarge(declared + " bytes");
            }
        }
        byte[] bytes = exchange.getRequestBody().readNBytes(MAX_BODY_BYTES + 1);
        if (bytes.length > MAX_BODY_BYTES) {
            throw tooLarge("more than " + MAX_BODY_BYTES + " bytes");
        }
        return bytes;
    }

    private static AgentException tooLarge(String size) {
        return new AgentException(413, "body-too-large", "the request body has " + size + "; the agent accepts at"
                + " most " + MAX_BODY_BYTES + " bytes");
    }

    private final List<Route> routes = new ArrayList<>();
    private String allowedClient;

    /** Accept only clients whose certificate CN is {@code commonName} (the manager). */
    public Router onlyFrom(String commonName) {
        this.allowedClient = commonName;
        return this;
    }

    /** Adds a route; {@code path} is a regular expression over the path after the /v1 prefix. */
    public Router add(String method, String path, Handler handler) {
        routes.add(new Route(method, Pattern.compile(Protocol.PREFIX + path), handler));
        return this;
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            exchange.getResponseHeaders().set(Protocol.VERSION_HEADER, Integer.toString(Protocol.VERSION));
            String path = exchange.getRequestURI().getPath();
            try {
                if (!path.startsWith(Protocol.PREFIX + "/")) {
                    throw new AgentException(404, "unsupported-protocol", "this agent speaks protocol version "
                            + Protocol.VERSION + "; its paths start with " + Protocol.PREFIX + "/, not " + path);
                }
                checkClient(exchange);
                String version = exchange.getRequestHeaders().getFirst(Protocol.VERSION_HEADER);
                if (!Integer.toString(Protocol.VERSION).equals(version)) {
                    throw new AgentException(400, "protocol-version-mismatch", "this agent speaks protocol version "
                            + Protocol.VERSION + " but the request says " + (version == null
                            ? "nothing (header " + Protocol.VERSION_HEADER + " missing)" : "'" + version + "'"));
                }
                boolean pathMatched = false;
                for (Route r : routes) {
                    Matcher m = r.pattern.matcher(path);
                    if (!m.matches()) {
                        continue;
                    }
                    pathMatched = true;
                    if (r.method.equals(exchange.getRequestMethod())) {
                        send(exchange, 200, r.handler.handle(new Request(exchange, m)));
                        return;
                    }
                }
                throw pathMatched
                        ? new AgentException(405, "method-not-allowed", exchange.getRequestMethod() + " is not allowed on "
                        + path)
                        : AgentException.notFound("no agent endpoint " + path);
            } catch (AgentException e) {
                if (e.status() >= 500) {
                    LOG.warn("{} {} failed: {}", exchange.getRequestMethod(), path, e.getMessage());
                }
                send(exchange, e.status(), new AgentProblem(e.status(), e.code(), e.getMessage()));
            } catch (Exception e) {
                LOG.error("{} {} failed", exchange.getRequestMethod(), path, e);
                send(exchange, 500, new AgentProblem(500, "internal-error", e.toString()));
            }
        }
    }

    private void checkClient(HttpExchange exchange) {
        if (allowedClient == null || !(exchange instanceof com.sun.net.httpserver.HttpsExchange https)) {
            return;
        }
        String cn;
        try {
            cn = org.carevisor.pki.Fingerprints.commonName((java.security.cert.X509Certificate)
                    https.getSSLSession().getPeerCertificates()[0]);
        } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
            throw new AgentException(401, "client-certificate-required", "a client certificate is required");
        }
        if (!allowedClient.equals(cn)) {
            throw new AgentException(403, "forbidden-client", "only the manager may call this agent, not '" + cn + "'");
        }
    }

    /**
     * Reads what is left of the request body (a handler that refused early did not read it) before the answer is
     * sent, so the connection the client keeps for its next request starts at that request and not inside an unread
     * body; a body too large to read this way ends the connection after the answer.
     */
    private static void drain(HttpExchange exchange) {
        try {
            java.io.InputStream in = exchange.getRequestBody();
            byte[] buf = new byte[8192];
            long total = 0;
            int n;
            while (total <= MAX_BODY_BYTES && (n = in.read(buf)) > 0) {
                total += n;
            }
            if (total > MAX_BODY_BYTES) {
                exchange.getResponseHeaders().set("Connection", "close");
            }
        } catch (IOException e) {
            exchange.getResponseHeaders().set("Connection", "close");
        }
    }

    private static void send(HttpExchange exchange, int status, Object body) throws IOException {
        drain(exchange);
        if (body == null) {
            exchange.sendResponseHeaders(status == 200 ? 204 : status, -1);
            return;
        }
        byte[] bytes = JSON.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
