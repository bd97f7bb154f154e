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
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Calls the manager's REST API and turns problem documents into {@link CliException}s. Every request carries
 * the bearer token (when there is one) and the reason of the command (header {@value #REASON_HEADER}).
 */
public final class ApiClient {
    /** Header carrying the reason for a change (kept in the audit trail). */
    public static final String REASON_HEADER = "Carevisor-Reason";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern FILENAME = Pattern.compile("filename\\s*=\\s*(?:\"([^\"]*)\"|([^;\\s]+))",
            Pattern.CASE_INSENSITIVE);

    private final String base;
    private final String token;
    private final String reason;
    private final String user;
    private final ManagerTrust trust;
    private final TrustPrompt prompt;
    private static final HttpClient PLAIN = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /**
     * Decides whether to trust a manager certificate the CLI does not trust yet (it asks the user or compares
     * with --trust-fingerprint); true when it was pinned and the request may be sent again.
     */
    interface TrustPrompt {
        boolean trust(ManagerTrust trust);
    }

    public ApiClient(String base) {
        this(base, null, null, null, null, null);
    }

    /** A client sending {@code token} (may be null) and {@code reason} (may be null) with every request. */
    public ApiClient(String base, String token, String reason) {
        this(base, token, reason, null, null, null);
    }

    /**
     * As above; {@code user} (may be null) only names the user in the "log in" hint of a 401; {@code trust}
     * decides which HTTPS certificates are accepted (null: the JDK's defaults), {@code prompt} what happens
     * with one that is not (null: refuse).
     */
    ApiClient(String base, String token, String reason, String user, ManagerTrust trust, TrustPrompt prompt) {
        this.base = base.replaceAll("/+$", "");
        this.token = token == null || token.isBlank() ? null : token.strip();
        this.reason = reason;
        this.user = user;
        this.trust = trust;
        this.prompt = prompt;
    }

    /** A file the API sent (audit export). */
    public record Download(byte[] bytes, String contentType, String filename) {
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

    /** GET of a file: its bytes, type and the file name of its Content-Disposition (null when none). */
    public Download download(String path) {
        HttpResponse<byte[]> r = exchange(request("GET", path, null, "*/*"), HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() >= 400) {
            JsonNode problem;
            try {
                problem = r.body().length == 0 ? JSON.nullNode() : JSON.readTree(r.body());
            } catch (IOException e) {
                problem = JSON.nullNode();
            }
            throw failure(r.statusCode(), problem);
        }
        return new Download(r.body(), r.headers().firstValue("Content-Type").orElse(null),
                filename(r.headers().firstValue("Content-Disposition").orElse(null)));
    }

    private JsonNode send(String method, String path, Object body) {
        HttpResponse<String> r = exchange(request(method, path, body, "application/json"),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        JsonNode node;
        try {
            node = r.body().isEmpty() ? JSON.nullNode() : JSON.readTree(r.body());
        } catch (IOException e) {
            if (r.statusCode() >= 400) {
                throw failure(r.statusCode(), JSON.nullNode());
            }
            throw new CliException(ExitCodes.ERROR, "the manager at " + base + " sent no JSON: " + e.getMessage());
        }
        if (r.statusCode() >= 400) {
            throw failure(r.statusCode(), node);
        }
        return node;
    }

    private HttpRequest request(String method, String path, Object body, String accept) {
        try {
            JsonNode json = body == null ? null : body instanceof JsonNode n ? n : JSON.valueToTree(body);
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60));
            headers(token, reason, method, json, accept).forEach(b::header);
            b.method(method, json == null ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(json)));
            return b.build();
        } catch (IOException e) {
            throw new CliException(ExitCodes.ERROR, "cannot write the request: " + e.getMessage());
        }
    }

    private <T> HttpResponse<T> exchange(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
        try {
            try {
                return http().send(request, handler);
            } catch (javax.net.ssl.SSLHandshakeException e) {
                if (trust == null || trust.presented() == null) {
                    throw e;
                }
                if (trust.nameMismatch() || prompt == null || !prompt.trust(trust)) {
                    throw untrusted();
                }
                return http().send(request, handler);
            }
        } catch (javax.net.ssl.SSLException e) {
            if (trust != null && trust.presented() != null) {
                throw untrusted();
            }
            throw new CliException(ExitCodes.UNREACHABLE, "no secure connection to " + base + ": " + e.getMessage()
                    + (base.startsWith("http://") ? "" : " (does the manager serve HTTPS at this address?)"));
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

    private HttpClient http() {
        return trust == null || !base.startsWith("https:") ? PLAIN : trust.client();
    }

    /** Why the manager's certificate was not accepted, with its fingerprint and the ways to trust it. */
    private CliException untrusted() {
        return new CliException(ExitCodes.UNTRUSTED, Certificates.untrustedMessage(base, trust));
    }

    private CliException failure(int status, JsonNode problem) {
        return new CliException(ExitCodes.forProblem(status, problem.path("code").asText(null)),
                message(status, problem, user));
    }

    /**
     * The headers of a request: Accept, Authorization (when there is a token), {@value #REASON_HEADER} (when
     * there is a reason) and Content-Type (when there is a body). The header carries ASCII only (the manager
     * reads it so); a reason with other characters is left out when the request needs none (GET) or its body
     * carries the reason itself, and is refused otherwise rather than sent garbled.
     */
    static Map<String, String> headers(String token, String reason, String method, JsonNode body, String accept) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Accept", accept);
        if (token != null && !token.isBlank()) {
            String t = token.strip();
            if (!headerSafe(t)) {
                throw new CliException(ExitCodes.USAGE, "the token contains characters a token cannot have;"
                        + " check --token / CAREVISOR_TOKEN / the session file");
            }
            h.put("Authorization", "Bearer " + t);
        }
        if (reason != null) {
            if (headerSafe(reason)) {
                h.put(REASON_HEADER, reason);
            } else if (!method.equals("GET") && !(body != null && body.path("reason").isTextual())) {
                throw new CliException(ExitCodes.USAGE, "--reason: the reason travels in the " + REASON_HEADER
                        + " header here, which carries plain ASCII text only (no line breaks, umlauts, accents or"
                        + " typographic dashes); please write it that way");
            }
        }
        if (body != null) {
            h.put("Content-Type", "application/json");
        }
        return h;
    }

    /** Printable ASCII and tabs: what an HTTP header value carries unchanged. */
    static boolean headerSafe(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if ((c < 0x20 && c != '\t') || c > 0x7e) {
                return false;
            }
        }
        return true;
    }

    /** The file name of a Content-Disposition header (its last path element only), or null. */
    static String filename(String contentDisposition) {
        if (contentDisposition == null) {
            return null;
        }
        Matcher m = FILENAME.matcher(contentDisposition);
        if (!m.find()) {
            return null;
        }
        String name = m.group(1) != null ? m.group(1) : m.group(2);
        name = name.substring(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1).strip();
        return name.isEmpty() || name.equals(".") || name.equals("..") ? null : name;
    }

    /** A problem document for a person: {@link #describe} and what to do about it. */
    static String message(int status, JsonNode problem, String user) {
        String code = problem.path("code").asText("");
        String text = describe(status, problem);
        if (status == 401 && !code.equals("login-failed")) {
            return text + "\n  log in: carevisor login " + (user == null ? "USER" : user)
                    + " (or give an API token with --token or $CAREVISOR_TOKEN)";
        }
        if (code.equals("reason-required")) {
            return text + "\n  give the reason: add --reason \"...\" (e.g. the change or ticket number)";
        }
        if (code.equals("signature-required")) {
            return text + "\n  sign it: add --sign approved (or authored, reviewed, responsible); you will be asked"
                    + " for your password";
        }
        if (code.equals("forbidden")) {
            return text + "\n  a user administrator can grant a role that has it (carevisor user grant)";
        }
        return text;
    }

    /** The API's field names as the CLI's options say them (the manager answers in the API's words). */
    private static final Map<String, String> OPTIONS = Map.of("memoryMiB", "--memory (MiB)", "diskSizeMiB",
            "--disk-size (MiB)", "sizeMiB", "--disk (MiB)");
    private static final Pattern FIELD = Pattern.compile("(?<![A-Za-z])(disks\\[[0-9]+\\]\\.)?(memoryMiB|diskSizeMiB|sizeMiB)"
            + "(?![A-Za-z])");

    /** {@code text} with the API's field names replaced by the CLI's options. */
    static String cliWords(String text) {
        return FIELD.matcher(text).replaceAll(m -> Matcher.quoteReplacement(OPTIONS.get(m.group(2))));
    }

    /** A problem document as one or more lines for a person. */
    static String describe(int status, JsonNode problem) {
        if (!problem.isObject()) {
            return "HTTP " + status;
        }
        StringBuilder s = new StringBuilder(cliWords(problem.path("detail").asText(problem.path("title")
                .asText("HTTP " + status))));
        JsonNode errors = problem.path("errors");
        if (errors.isArray() && errors.size() > 1) {
            for (JsonNode e : errors) {
                s.append("\n  - ").append(cliWords(e.path("field").asText())).append(": ")
                        .append(cliWords(e.path("message").asText()));
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
