package org.carevisor.manager.api;

import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP rules that hold for every request and answer of the API server and web console: security headers on
 * every answer, JSON as the only request body ({@code 415} otherwise, so that no cross-site form or
 * {@code text/plain} request reaches an endpoint), and {@code 500} answers that carry an incident id instead of
 * the exception's text (the details are logged under that id). Thread-safe.
 */
final class HttpHardening {
    private static final Logger LOG = LoggerFactory.getLogger(HttpHardening.class);

    /**
     * The web console loads its script and style sheet from the manager only, has no inline script, style or
     * event handler attribute, and talks to the API on the same origin; nothing may frame it.
     */
    static final String CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; "
            + "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            + "form-action 'self'; frame-ancestors 'none'";

    /**
     * Endpoints that take a body other than JSON (uploads). None today: exports and imports move files inside the
     * storage, never through the API. An upload endpoint added later must be listed here, with its media type.
     */
    static final Map<String, Set<String>> UPLOADS = Map.of();

    /** How many client addresses and endpoints the refusal audit remembers (see {@link #requireJson}). */
    private static final int REMEMBERED_ADDRESSES = 10_000;

    private final AuditLog audit;
    private final Map<String, Long> lastAudited = new LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
            return size() > REMEMBERED_ADDRESSES;
        }
    };

    HttpHardening(AuditLog audit) {
        this.audit = audit;
    }

    /** Security headers of every answer; API answers are never stored by browsers or proxies. */
    static void headers(Context ctx) {
        ctx.header("Content-Security-Policy", CONTENT_SECURITY_POLICY);
        ctx.header("X-Frame-Options", "DENY");
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("Referrer-Policy", "no-referrer");
        ctx.header("Cross-Origin-Resource-Policy", "same-origin");
        ctx.header("Cross-Origin-Opener-Policy", "same-origin");
        if (ctx.path().startsWith("/api/")) {
            ctx.header("Cache-Control", "no-store");
        }
    }

    /**
     * Refuses a request whose body is not {@code application/json} (UTF-8) with 415 naming the content type it
     * was sent as. The refusal is audited as {@code request.refused}, at most once a minute per client address and
     * endpoint (a flood of them is logged, not written into the audit trail record by record).
     */
    void requireJson(Context ctx, String method, String path) {
        if (!RequestBody.present(ctx)) {
            return;
        }
        String sent = ctx.header("Content-Type");
        String type = mediaType(sent);
        Set<String> allowed = UPLOADS.getOrDefault(method + " " + path, Set.of("application/json"));
        if (type != null && allowed.contains(type) && utf8(sent)) {
            return;
        }
        String detail = (sent == null ? "the request has a body but no Content-Type"
                : "the request body is sent as '" + abbreviate(sent) + "'") + "; " + method + " " + path
                + " takes a JSON body only: send it with Content-Type: application/json (UTF-8)";
        refusalAudit(ctx, method + " " + path, sent, detail);
        throw new ApiException(415, "unsupported-media-type", "Unsupported media type", detail,
                java.util.List.of(new ApiException.FieldError("Content-Type", "must be application/json")));
    }

    private void refusalAudit(Context ctx, String endpoint, String contentType, String detail) {
        long minute = System.currentTimeMillis() / 60_000;
        boolean record;
        synchronized (lastAudited) {
            String key = ctx.ip() + " " + endpoint;
            Long last = lastAudited.get(key);
            record = last == null || last != minute;
            if (record) {
                lastAudited.put(key, minute);
            }
        }
        LOG.warn("refused {} from {}: body sent as {}", endpoint, ctx.ip(), contentType);
        if (record) {
            Map<String, Object> what = new LinkedHashMap<>();
            what.put("endpoint", endpoint);
            what.put("contentType", contentType == null ? "(none)" : abbreviate(contentType));
            what.put("origin", ctx.header("Origin") == null ? "(none)" : abbreviate(ctx.header("Origin")));
            audit.record(new AuditLog.Entry(Actor.user("anonymous", ctx.ip()), "request.refused", "endpoint",
                    null, endpoint, null, what, detail, AuditLog.Outcome.REFUSED, null));
        }
    }

    /** The media type of a Content-Type header without parameters, lower case; null when absent. */
    static String mediaType(String contentType) {
        if (contentType == null) {
            return null;
        }
        int semi = contentType.indexOf(';');
        return (semi < 0 ? contentType : contentType.substring(0, semi)).strip().toLowerCase(Locale.ROOT);
    }

    /** True when the header names no charset or UTF-8 (JSON is UTF-8, RFC 8259). */
    static boolean utf8(String contentType) {
        for (String param : contentType.split(";")) {
            String p = param.strip().toLowerCase(Locale.ROOT);
            if (p.startsWith("charset=")) {
                String cs = p.substring(8).replace("\"", "").strip();
                return cs.equals("utf-8") || cs.equals("utf8");
            }
        }
        return true;
    }

    /** The problem of an unexpected failure: an incident id, no internals; the details go to the log. */
    static ApiException internal(Context ctx, Exception e) {
        String incident = UUID.randomUUID().toString();
        LOG.error("incident {}: {} {} failed", incident, ctx.method(), ctx.path(), e);
        return new Incident(incident);
    }

    /** The problem of a refusal by the HTTP server itself (e.g. a body above the size limit). */
    static ApiException http(Context ctx, HttpResponseException e) {
        int status = e.getStatus();
        String code = status == 413 ? "request-too-large" : status == 400 ? "bad-request" : "http-" + status;
        String detail = status == 413 ? "the request body is larger than the manager accepts (1 MB)"
                : e.getMessage() == null || e.getMessage().isBlank() ? "refused by the HTTP server" : e.getMessage();
        return new ApiException(status, code, status == 413 ? "Request too large" : "Request refused", detail, null);
    }

    /** A 500 that names only its incident id. */
    static final class Incident extends ApiException {
        private final String id;

        Incident(String id) {
            super(500, "internal-error", "Internal error", "the manager failed to handle this request; the details"
                    + " are in the manager's log under incident " + id + " (give this id to the administrator)", null);
            this.id = id;
        }

        String id() {
            return id;
        }
    }

    private static String abbreviate(String s) {
        String clean = s.replaceAll("[\\p{Cntrl}]", "?");
        return clean.length() <= 100 ? clean : clean.substring(0, 100) + "...";
    }
}
