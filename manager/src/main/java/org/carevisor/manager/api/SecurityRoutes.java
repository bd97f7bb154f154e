package org.carevisor.manager.api;

import io.javalin.http.Context;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.carevisor.manager.audit.AuditCheckpoints;
import org.carevisor.manager.audit.AuditExport;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditRecord;
import org.carevisor.manager.audit.AuditReviews;
import org.carevisor.manager.audit.AuditVerifier;
import org.carevisor.manager.auth.AuthService;
import org.carevisor.manager.auth.Principal;
import org.carevisor.manager.auth.SecuritySettings;
import org.carevisor.manager.auth.UserService;

/** Endpoints of logins, users, roles, security settings and the audit trail. */
public final class SecurityRoutes {
    /** Request body of a login. */
    public record Login(String username, String password) {
    }

    /** Request body of a password change. */
    public record PasswordChange(String currentPassword, String newPassword) {
    }

    /** Request body of a new API token. */
    public record TokenCreate(String name, Integer expiresInDays) {
    }

    /** Request body of an audit review. */
    public record ReviewCreate(String from, String to, String conclusion, AuthService.SignatureRequest signature) {
    }

    private final AuthService auth;
    private final UserService users;
    private final AuditLog audit;
    private final AuditVerifier verifier;
    private final AuditCheckpoints checkpoints;
    private final AuditReviews reviews;

    public SecurityRoutes(AuthService auth, UserService users, AuditLog audit, AuditVerifier verifier,
                          AuditCheckpoints checkpoints, AuditReviews reviews) {
        this.auth = auth;
        this.users = users;
        this.audit = audit;
        this.verifier = verifier;
        this.checkpoints = checkpoints;
        this.reviews = reviews;
    }

    void register(ApiRoutes.Registrar r) {
        String v = "/api/v1";
        r.add("POST", v + "/auth/login", ctx -> {
            Login l = RequestBody.read(ctx, Login.class);
            ctx.status(201).json(auth.login(l.username(), l.password(), ctx.ip()));
        });
        r.add("GET", v + "/auth/whoami", ctx -> {
            Principal p = Guard.principal(ctx);
            Map<String, Object> m = new LinkedHashMap<>(users.view(p.userId()));
            m.put("session", Map.of("id", p.tokenId(), "kind", p.tokenKind()));
            m.put("idleTimeoutMinutes", auth.settings().sessionIdleMinutes());
            m.put("privileges", p.grants().stream().map(g -> Map.of("role", g.role(), "scope", g.scope().toString(),
                    "privileges", g.privileges().stream().sorted().map(x -> x.id()).toList())).toList());
            ctx.json(m);
        });
        r.add("POST", v + "/auth/logout", ctx -> {
            auth.logout(Guard.principal(ctx));
            ctx.status(204);
        });
        r.add("POST", v + "/auth/password", ctx -> {
            PasswordChange c = RequestBody.read(ctx, PasswordChange.class);
            auth.changePassword(Guard.principal(ctx), c.currentPassword(), c.newPassword());
            ctx.status(204);
        });
        r.add("GET", v + "/auth/tokens", ctx -> ctx.json(auth.apiTokens(Guard.principal(ctx).userId()).stream()
                .map(AuthService::view).toList()));
        r.add("POST", v + "/auth/tokens", ctx -> {
            TokenCreate c = RequestBody.read(ctx, TokenCreate.class);
            ctx.status(201).json(auth.createApiToken(Guard.principal(ctx), c.name(), c.expiresInDays()));
        });
        r.add("DELETE", v + "/auth/tokens/{id}", ctx -> {
            Principal p = Guard.principal(ctx);
            auth.revokeToken(p, ctx.pathParam("id"), p.mayEverywhere(org.carevisor.manager.auth.Privilege.USER_ADMIN));
            ctx.status(204);
        });

        r.add("GET", v + "/users", ctx -> ctx.json(users.list()));
        r.add("POST", v + "/users", ctx -> ctx.status(201).json(users.create(RequestBody.read(ctx, UserService.Create.class), Guard.actor(ctx))));
        r.add("GET", v + "/users/{id}", ctx -> ctx.json(users.view(ctx.pathParam("id"))));
        r.add("PATCH", v + "/users/{id}", ctx -> ctx.json(users.update(ctx.pathParam("id"), RequestBody.read(ctx, UserService.Patch.class), Guard.actor(ctx))));
        r.add("POST", v + "/users/{id}/password-reset", ctx -> ctx.json(users.resetPassword(ctx.pathParam("id"),
                Guard.actor(ctx))));
        r.add("POST", v + "/users/{id}/unlock", ctx -> ctx.json(users.unlock(ctx.pathParam("id"), Guard.actor(ctx))));
        r.add("POST", v + "/users/{id}/roles", ctx -> ctx.status(201).json(users.assign(ctx.pathParam("id"),
                RequestBody.read(ctx, UserService.AssignmentRequest.class), Guard.actor(ctx))));
        r.add("DELETE", v + "/users/{id}/roles/{assignment}", ctx -> ctx.json(users.unassign(ctx.pathParam("id"),
                ctx.pathParam("assignment"), Guard.actor(ctx))));
        r.add("GET", v + "/roles", ctx -> ctx.json(users.roles()));
        r.add("POST", v + "/roles", ctx -> ctx.status(201).json(users.createRole(RequestBody.read(ctx, UserService.RoleCreate.class), Guard.actor(ctx))));
        r.add("DELETE", v + "/roles/{id}", ctx -> {
            users.deleteRole(ctx.pathParam("id"), Guard.actor(ctx));
            ctx.status(204);
        });
        r.add("GET", v + "/settings/security", ctx -> ctx.json(auth.settings()));
        r.add("PATCH", v + "/settings/security", ctx -> ctx.json(auth.updateSettings(RequestBody.read(ctx, SecuritySettings.class), Guard.actor(ctx))));

        r.add("GET", v + "/audit", ctx -> ctx.json(audit.query(filter(ctx, 100, 10_000))));
        r.add("GET", v + "/audit/export", this::export);
        r.add("POST", v + "/audit/verify", ctx -> {
            checkpoints.checkpoint();
            ctx.json(verifier.verify());
        });
        r.add("GET", v + "/audit/checkpoints", ctx -> {
            AuditCheckpoints.Checkpoint c = checkpoints.latest();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("head", audit.head());
            m.put("latest", c == null ? null : Map.of("seq", c.seq(), "hash", c.hash(), "signedAt", c.signedAt()));
            ctx.json(m);
        });
        r.add("GET", v + "/audit/reviews", ctx -> ctx.json(reviews.list()));
        r.add("POST", v + "/audit/reviews", ctx -> {
            ReviewCreate c = RequestBody.read(ctx, ReviewCreate.class);
            Instant[] range = range(c.from(), c.to(), true);
            ctx.status(201).json(reviews.create(range[0], range[1], c.conclusion(), Guard.actor(ctx)));
        });
    }

    /** Most records a PDF report may hold (a PDF is built whole before it is sent); CSV goes up to 1,000,000. */
    static final int PDF_MAX_RECORDS = 20_000;

    /**
     * Streams the export from a database cursor to the response, record by record (CSV), or builds the PDF with
     * its pages in a temporary file and sends it once complete (bounded: {@value #PDF_MAX_RECORDS} records,
     * {@link AuditExport#PDF_MAX_PAGES} pages; above that 400 {@code export-too-large} before anything is sent).
     * The headers {@code Carevisor-Records-Matching} and {@code Carevisor-Records-Exported} say how many records
     * match the query and how many the file holds (the first ones, oldest first, when the limit cut the rest).
     */
    private void export(Context ctx) throws Exception {
        String format = ctx.queryParam("format") == null ? "csv" : ctx.queryParam("format");
        if (!format.equals("csv") && !format.equals("pdf")) {
            throw ApiException.invalid("format", "must be csv or pdf, not '" + format + "'");
        }
        AuditLog.Filter q = filter(ctx, 100_000, 1_000_000);
        long matching = audit.count(q);
        int exported = (int) Math.min(matching, q.limit());
        if (format.equals("pdf") && exported > PDF_MAX_RECORDS) {
            throw new ApiException(400, "export-too-large", "The export is too large for a PDF", "the query matches "
                    + matching + " records" + (exported < matching ? " (" + exported + " within the limit)" : "")
                    + "; a PDF report holds at most " + PDF_MAX_RECORDS + ": narrow the range (from, to) or the"
                    + " query (user, object, action), or export CSV (format=csv, up to 1000000 records)",
                    List.of(new ApiException.FieldError("limit", "a PDF holds at most " + PDF_MAX_RECORDS
                            + " records")));
        }
        // oldest first, and no more than were counted: records appended meanwhile come later and are not included
        AuditLog.Filter f = new AuditLog.Filter(q.from(), q.to(), q.actor(), q.targetId(), q.action(), q.afterSeq(),
                Math.max(1, exported), true);
        String stamp = Instant.now().toString().replace(":", "").replaceAll("\\..*", "");
        ctx.header("Carevisor-Records-Matching", String.valueOf(matching));
        ctx.header("Carevisor-Records-Exported", String.valueOf(exported));
        ctx.header("Content-Disposition", "attachment; filename=\"carevisor-audit-" + stamp + "." + format + "\"");
        if (format.equals("csv")) {
            ctx.contentType("text/csv; charset=utf-8");
            java.io.OutputStream out = ctx.res().getOutputStream();
            AuditExport.Csv csv = new AuditExport.Csv(out);
            if (exported > 0) {
                audit.stream(f, r -> {
                    try {
                        csv.write(r);
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
            }
            csv.finish();
            return;
        }
        AuditVerifier.Result chain = verifier.verify();
        List<String> header = new ArrayList<>();
        header.add("Query: " + describe(q) + "; " + (exported < matching ? "the first " + exported + " of " + matching
                + " matching records (limit " + q.limit() + ")" : matching + " records") + ", oldest first.");
        header.add("Exported " + Instant.now() + " by " + Guard.principal(ctx).fullName() + " ("
                + Guard.principal(ctx).username() + ").");
        header.add("Hash chain: " + chain.summary());
        try (AuditExport.Pdf pdf = new AuditExport.Pdf("Audit trail report", header)) {
            if (exported > 0) {
                audit.stream(f, r -> {
                    try {
                        pdf.write(r);
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
            }
            ctx.contentType("application/pdf");
            pdf.finish(ctx.res().getOutputStream());
        } catch (java.io.UncheckedIOException e) {
            if (e.getCause() instanceof AuditExport.TooLarge t) {
                throw new ApiException(400, "export-too-large", "The export is too large for a PDF", t.getMessage(),
                        null);
            }
            throw e;
        }
    }

    private static String describe(AuditLog.Filter f) {
        List<String> parts = new ArrayList<>();
        parts.add("from " + (f.from() == null ? "the beginning" : f.from()));
        parts.add("to " + (f.to() == null ? "now" : f.to()));
        if (f.actor() != null) {
            parts.add("user " + f.actor());
        }
        if (f.targetId() != null) {
            parts.add("object " + f.targetId());
        }
        if (f.action() != null) {
            parts.add("action " + f.action());
        }
        return String.join(", ", parts);
    }

    static AuditLog.Filter filter(Context ctx, int defaultLimit, int maxLimit) {
        Instant[] range = range(ctx.queryParam("from"), ctx.queryParam("to"), false);
        int limit = defaultLimit;
        String l = ctx.queryParam("limit");
        if (l != null) {
            try {
                limit = Integer.parseInt(l);
            } catch (NumberFormatException e) {
                throw ApiException.invalid("limit", "must be a whole number, not '" + l + "'");
            }
            if (limit < 1 || limit > maxLimit) {
                throw ApiException.invalid("limit", "must be between 1 and " + maxLimit);
            }
        }
        String target = ctx.queryParam("target") != null ? ctx.queryParam("target") : ctx.queryParam("object");
        String order = ctx.queryParam("order");
        if (order != null && !order.equals("asc") && !order.equals("desc")) {
            throw ApiException.invalid("order", "must be asc or desc");
        }
        return new AuditLog.Filter(range[0], range[1], blank(ctx.queryParam("user")), blank(target),
                blank(ctx.queryParam("action")), null, limit, "asc".equals(order));
    }

    /** Parses a [from, to) range of ISO-8601 instants or dates (UTC); 400 naming the field when malformed. */
    /**
     * A period {@code [from, to)}. A date alone means that day's start for {@code from} and its end for {@code to}
     * ({@code --to 2026-12-01} includes the 1st of December); a time is taken as it is (UTC).
     */
    static Instant[] range(String from, String to, boolean required) {
        List<ApiException.FieldError> errors = new ArrayList<>();
        Instant f = time("from", from, errors, required);
        Instant t = time("to", to, errors, required);
        if (t != null && to.length() == 10) {
            t = t.plus(java.time.Duration.ofDays(1)); // through the end of that day
        }
        if (errors.isEmpty() && f != null && t != null && !f.isBefore(t)) {
            errors.add(new ApiException.FieldError("to", "must be after from (" + f + "), not " + t));
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        return new Instant[] {f, t};
    }

    private static Instant time(String field, String v, List<ApiException.FieldError> errors, boolean required) {
        if (v == null || v.isEmpty()) {
            if (required) {
                errors.add(new ApiException.FieldError(field, "is required (e.g. 2026-11-01 or 2026-11-01T08:00:00Z)"));
            }
            return null;
        }
        try {
            if (v.length() == 10) {
                return LocalDate.parse(v).atStartOfDay().toInstant(ZoneOffset.UTC);
            }
            return Instant.parse(v);
        } catch (DateTimeParseException e) {
            errors.add(new ApiException.FieldError(field, "'" + v + "' is not a date (2026-11-01) or UTC time"
                    + " (2026-11-01T08:00:00Z)"));
            return null;
        }
    }

    private static String blank(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
