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
    public record Response(int status, String contentType, String location, JsonNode json, String text,
                           java.net.http.HttpHeaders headers) {
        /** The first value of header {@code name}, or null. */
        public String header(String name) {
            return headers == null ? null : headers.firstValue(name).orElse(null);
        }

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
    private final HttpClient client;

    /** A client with the JDK's default trust (plain HTTP, or HTTPS servers with a public certificate). */
    public Http(String base) {
        this(base, java.util.Map.of(), CLIENT);
    }

    /** A client that trusts only the CA certificate in {@code caPem} (PEM) for HTTPS. */
    public Http(String base, java.nio.file.Path caPem) {
        this(base, java.util.Map.of(), trusting(caPem));
    }

    /**
     * A client for the manager whose data directory is {@code managerDataDir}, listening on loopback at
     * {@code port}. Tests that start a manager in their own JVM use this, so the scheme and the trust in the
     * manager's certificate authority are decided in one place.
     */
    public static Http forManager(java.nio.file.Path managerDataDir, int port) {
        return new Http("https://127.0.0.1:" + port, managerCa(managerDataDir));
    }

    /** The CA certificate that issues the API certificate of the manager with data directory {@code dataDir}. */
    public static java.nio.file.Path managerCa(java.nio.file.Path dataDir) {
        return dataDir.resolve("pki").resolve("api-ca.crt");
    }

    private static final java.util.Map<java.nio.file.Path, HttpClient> TRUSTING =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** An HTTP client (shared per CA file) that trusts only the CA certificate in {@code caPem}. */
    public static HttpClient trusting(java.nio.file.Path caPem) {
        return TRUSTING.computeIfAbsent(caPem.toAbsolutePath(), p -> HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(3)).sslContext(sslContext(p)).build());
    }

    /** A TLS context trusting only the CA certificate in {@code caPem}. */
    public static javax.net.ssl.SSLContext sslContext(java.nio.file.Path caPem) {
        try (var in = java.nio.file.Files.newInputStream(caPem)) {
            java.security.cert.Certificate ca = java.security.cert.CertificateFactory.getInstance("X.509")
                    .generateCertificate(in);
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setCertificateEntry("ca", ca);
            javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance("PKIX");
            tmf.init(ks);
            javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (IOException | java.security.GeneralSecurityException e) {
            throw new IllegalStateException("cannot trust the CA certificate " + caPem + ": " + e, e);
        }
    }

    private Http(String base, java.util.Map<String, String> headers, HttpClient client) {
        this.base = base.replaceAll("/+$", "");
        this.headers = java.util.Map.copyOf(headers);
        this.client = client;
    }

    /** The base URL of this client. */
    public String base() {
        return base;
    }

    /** A client that sends {@code name: value} with every request. */
    public Http withHeader(String name, String value) {
        java.util.Map<String, String> h = new java.util.HashMap<>(headers);
        if (value == null) {
            h.remove(name);
        } else {
            h.put(name, value);
        }
        return new Http(base, h, client);
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

    /** The raw bytes of a GET (a binary download such as a PDF); fails on anything but 200. */
    public byte[] bytes(String path) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
            headers.forEach(b::header);
            HttpResponse<byte[]> r = client.send(b.GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            if (r.statusCode() != 200) {
                throw new AssertionError("GET " + path + " answered " + r.statusCode() + ": "
                        + new String(r.body(), java.nio.charset.StandardCharsets.UTF_8));
            }
            return r.body();
        } catch (IOException e) {
            throw new IllegalStateException("GET " + base + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
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
            HttpResponse<String> r = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode json = null;
            try {
                json = r.body().isEmpty() ? null : JSON.readTree(r.body());
            } catch (IOException e) {
                // not JSON
            }
            return new Response(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""),
                    r.headers().firstValue("Location").orElse(null), json, r.body(), r.headers());
        } catch (IOException e) {
            throw new IllegalStateException(method + " " + base + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * Sends {@code body} as it is with the given Content-Type (none when null), e.g. a cross-site form or a
     * {@code text/plain} request, which the manager must refuse.
     */
    public Response sendAs(String method, String path, String contentType, String body) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
            headers.forEach(b::header);
            if (contentType != null) {
                b.header("Content-Type", contentType);
            }
            b.method(method, HttpRequest.BodyPublishers.ofString(body));
            HttpResponse<String> r = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode json = null;
            try {
                json = r.body().isEmpty() ? null : JSON.readTree(r.body());
            } catch (IOException e) {
                // not JSON
            }
            return new Response(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""),
                    r.headers().firstValue("Location").orElse(null), json, r.body(), r.headers());
        } catch (IOException e) {
            throw new IllegalStateException(method + " " + base + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Downloads {@code path} into {@code file} (streamed, for large exports); returns the response's headers. */
    public java.net.http.HttpHeaders download(String path, java.nio.file.Path file) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofMinutes(10));
            headers.forEach(b::header);
            HttpResponse<java.nio.file.Path> r = client.send(b.GET().build(), HttpResponse.BodyHandlers.ofFile(file));
            if (r.statusCode() != 200) {
                throw new AssertionError("GET " + path + " answered " + r.statusCode() + ": "
                        + java.nio.file.Files.readString(file));
            }
            return r.headers();
        } catch (IOException e) {
            throw new IllegalStateException("GET " + base + path + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public static ObjectMapper json() {
        return JSON;
    }
}
