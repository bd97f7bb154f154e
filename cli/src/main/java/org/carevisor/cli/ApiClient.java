package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** Calls the manager's REST API and turns problem documents into {@link CliException}s. */
public final class ApiClient {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String base;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    public ApiClient(String base) {
        this.base = base.replaceAll("/+$", "");
    }

    public String base() {
        return base;
    }

    public JsonNode get(String path) {
        return send("GET", path, null);
    }

    public JsonNode post(String path, Object body) {
        return send("POST", path, body);
    }

    public JsonNode patch(String path, Object body) {
        return send("PATCH", path, body);
    }

    public JsonNode delete(String path) {
        return send("DELETE", path, null);
    }

    public JsonNode deleteWithBody(String path, Object body) {
        return send("DELETE", path, body);
    }

    private JsonNode send(String method, String path, Object body) {
        URI uri = URI.create(base + path);
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60))
                    .header("Accept", "application/json");
            if (body != null) {
                b.header("Content-Type", "application/json")
                        .method(method, HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
            } else {
                b.method(method, HttpRequest.BodyPublishers.noBody());
            }
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            JsonNode node = r.body().isEmpty() ? JSON.nullNode() : JSON.readTree(r.body());
            if (r.statusCode() >= 400) {
                throw new CliException(ExitCodes.forStatus(r.statusCode()), describe(r.statusCode(), node));
            }
            return node;
        } catch (ConnectException e) {
            throw new CliException(ExitCodes.UNREACHABLE, "cannot reach the Carevisor manager at " + base
                    + " - is it running? (start it with ./carevisor up, or pass --url / set CAREVISOR_URL)");
        } catch (IOException e) {
            throw new CliException(ExitCodes.UNREACHABLE, "talking to " + base + " failed: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(ExitCodes.ERROR, "interrupted");
        }
    }

    /** A problem document as one or more lines for a person. */
    static String describe(int status, JsonNode problem) {
        if (!problem.isObject()) {
            return "HTTP " + status;
        }
        StringBuilder s = new StringBuilder(problem.path("detail").asText(problem.path("title").asText("HTTP " + status)));
        JsonNode errors = problem.path("errors");
        if (errors.isArray() && errors.size() > 1) {
            for (JsonNode e : errors) {
                s.append("\n  - ").append(e.path("field").asText()).append(": ").append(e.path("message").asText());
            }
        }
        String code = problem.path("code").asText("");
        if (!code.isEmpty()) {
            s.append(" [").append(code).append(']');
        }
        return s.toString();
    }

    public static ObjectMapper json() {
        return JSON;
    }
}
