package org.carevisor.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A small JSON HTTP client for tests; never throws on 4xx/5xx, so tests can look at problem documents. */
public final class Http {
    /** Status, headers and parsed body of a response. */
    public record Response(int status, String contentType, String location, JsonNode json, String text) {
        /** This response when its status is {@code expected}, else an AssertionError with the body. */
        public Response expect(int expected) {
            if (status != expected) {
                throw new AssertionError("expected HTTP " + expected + " but got " + status + ": " + text);
            }
            return this;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

    private final String base;
    private final java.util.Map<String, String> headers;

    public Http(String base) {
        this(base, java.util.Map.of());
    }

    private Http(String base, java.util.Map<String, String> headers) {
        this.base = base.replaceAll("/+$", "");
        this.headers = java.util.Map.copyOf(headers);
    }

    /** A client that sends {@code name: value} with every request. */
    public Http withHeader(String name, String value) {
        java.util.Map<String, String> h = new java.util.HashMap<>(headers);
        if (value == null) {
            h.remove(name);
        } else {
            h.put(name, value);
        }
        return new Http(base, h);
    }

    /** A client that authenticates with a bearer token (session or API token). */
    public Http withToken(String token) {
        return withHeader("Authorization", token == null ? null : "Bearer " + token);
    }

    /** A client that sends no credentials. */
    public Http anonymous() {
        return withHeader("Authorization", null);
    }

    /** Logs in and returns a client with the session token; fails on anything but 201. */
    public Http login(String username, String password) {
        Response r = post("/api/v1/auth/login", "{\"username\":" + quote(username) + ",\"password\":"
                + quote(password) + "}");
        if (r.status() != 201) {
            throw new IllegalStateException("login of " + username + " failed: " + r.status() + " " + r.text());
        }
        return anonymous().withToken(r.json().path("token").asText());
    }

    private static String quote(String s) {
        try {
            return JSON.writeValueAsString(s);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public Response get(String path) {
        return send("GET", path, null);
    }

    public Response post(String path, String body) {
        return send("POST", path, body);
    }

    public Response patch(String path, String body) {
        return send("PATCH", path, body);
    }

    public Response delete(String path) {
        return send("DELETE", path, null);
    }

    public Response send(String method, String path, String body) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
            headers.forEach(b::header);
            if (body != null) {
                b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body));
            } else {
                b.method(method, HttpRequest.BodyPublishers.noBody());
            }
            HttpResponse<String> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode json = null;
            try {
                json = r.body().isEmpty() ? null : JSON.readTree(r.body());
            } catch (IOException e) {
                // not JSON
            }
            return new Response(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""),
                    r.headers().firstValue("Location").orElse(null), json, r.body());
        } catch (IOException e) {
            throw new IllegalStateException(method + " " + base + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public static ObjectMapper json() {
        return JSON;
    }
}
