package org.carevisor.manager.auth;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.api.Json;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.db.Sql;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Authentication: logins with lockout, sessions with automatic logoff, API tokens, password changes,
 * electronic signatures (re-entered password) and the security settings. Every security event - failed
 * login, lockout, expired token or session, failed signature - is audited. Every password check (login,
 * signature, password change) passes the same rate limits ({@link LoginThrottle}) and the same bounded hashing
 * ({@link HashingGate}); an unknown user name takes the same path at the same cost as a wrong password. Failed
 * attempts are counted in SQL under the account's row lock, and a login writes only the columns it decides, so
 * parallel attempts are each counted and a concurrent disable or password reset is never undone. Thread-safe.
 */
public final class AuthService {
    private static final Logger LOG = LoggerFactory.getLogger(AuthService.class);
    public static final String SESSION = "session";
    public static final String API = "api";
    private static final String SETTINGS = "security";
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Updating a session's last use on every request would write on every request; this often is enough. */
    private static final Duration TOUCH_EVERY = Duration.ofSeconds(5);

    /** A login's or token's result: the secret (shown once) and when it ends. */
    public record Issued(String id, String token, String kind, String name, Instant expiresAt, Integer idleTimeoutMinutes,
                         String username, String fullName, boolean mustChangePassword) {
    }

    /** A signature as a request carries it: the two components (user id and password) and the meaning. */
    public record SignatureRequest(String username, String password, String meaning) {
    }

    private final UserRepository repo;
    private final AuditLog audit;
    private final LoginThrottle throttle;
    private volatile SecuritySettings settings;

    public AuthService(UserRepository repo, AuditLog audit) {
        this.repo = repo;
        this.audit = audit;
        this.throttle = new LoginThrottle(audit, this::settings, System::nanoTime);
        this.settings = repo.setting(SETTINGS).map(s -> Json.mapper().convertValue(readTree(s), SecuritySettings.class))
                .map(s -> SecuritySettings.defaults().merge(s)).orElse(SecuritySettings.defaults());
    }

    public SecuritySettings settings() {
        return settings;
    }

    /** Changes settings (validated; audited with old and new value). */
    public synchronized SecuritySettings updateSettings(SecuritySettings patch, Actor actor) {
        SecuritySettings old = settings;
        SecuritySettings next = old.merge(patch);
        repo.jdbi().useTransaction(h -> {
            repo.putSetting(h, SETTINGS, Json.write(next));
            audit.record(h, new AuditLog.Entry(actor, "settings.security.update", "settings", SETTINGS, SETTINGS,
                    old, next, null, Outcome.SUCCESS, null));
        });
        settings = next;
        return next;
    }

    // ---- login and logoff

    /**
     * Logs a user in; 401 {@code login-failed} (user unknown or password wrong: the same answer, after the same
     * work), 403 {@code account-locked}, {@code account-disabled} or {@code password-expired} (the last two only
     * with the right password), 429 {@code too-many-attempts}, 503 {@code auth-busy}.
     */
    public Issued login(String username, String password, String address) {
        if (username == null || username.isBlank() || password == null) {
            throw ApiException.invalid(username == null || username.isBlank() ? "username" : "password", "is required");
        }
        LoginThrottle.Ticket ticket = throttle.admit(address, username, "auth.login");
        Instant now = Instant.now();
        // no account has a longer name (at most 64); what the trail shows of one is cut to fit its columns
        Optional<UserRecord> found = username.length() > 64 ? Optional.empty() : repo.findByName(username);
        String shown = username.length() > 64 ? username.substring(0, 64) + "..." : username;
        Actor actor = new Actor(shown, address, found.map(UserRecord::id).orElse(null), null, null);
        if (found.isPresent() && found.get().lockedAt(now)) {
            UserRecord u = found.get();
            audit.record(new AuditLog.Entry(actor, "auth.login", "user", u.id(), u.username(), null, null,
                    "account locked until " + u.lockedUntil(), Outcome.REFUSED, null));
            throw locked(u);
        }
        // an unknown user is checked against a fixed hash: same work, same time, same gate, same answer
        boolean right = PasswordHasher.verify(password, found.map(UserRecord::passwordHash).orElse(DUMMY_HASH));
        if (found.isEmpty()) {
            audit.record(new AuditLog.Entry(actor, "auth.login", "user", null, shown, null, null,
                    "unknown user", Outcome.FAILURE, null));
            throw loginFailed();
        }
        UserRecord u = found.get();
        if (!right) {
            failedAttempt(u, actor, "auth.login", "wrong password");
            throw loginFailed();
        }
        ticket.succeeded();
        refuseUnusable(u, actor, now);
        SecuritySettings s = settings;
        Instant expires = now.plus(Duration.ofHours(s.sessionMaxHours()));
        String id = UUID.randomUUID().toString();
        String token = "cvs_" + secret();
        boolean done = repo.jdbi().inTransaction(h -> {
            // only while nothing changed since the check: still enabled, not locked, the same password
            if (repo.loggedIn(h, u.id(), u.passwordHash(), now) == 0) {
                return false;
            }
            repo.insertToken(h, new UserRepository.Token(id, u.id(), SESSION, null, now, now, expires, null, address),
                    hash(token));
            audit.record(h, new AuditLog.Entry(actor, "auth.login", "user", u.id(), u.username(), null,
                    Map.of("session", id), u.emergency() ? "emergency account" : null, Outcome.SUCCESS, null));
            return true;
        });
        if (!done) {
            // disabled, locked or given a new password between the check and now: refused as the account is now
            UserRecord current = repo.find(u.id()).orElseThrow(AuthService::loginFailed);
            refuseUnusable(current, actor, Instant.now());
            audit.record(new AuditLog.Entry(actor, "auth.login", "user", u.id(), u.username(), null, null,
                    "the password was changed while the login was checked", Outcome.REFUSED, null));
            throw loginFailed();
        }
        return new Issued(id, token, SESSION, null, expires, s.sessionIdleMinutes(), u.username(), u.fullName(),
                u.mustChangePassword());
    }

    /** Refuses (audited) an account the right password cannot open: disabled, locked, or its password expired. */
    private void refuseUnusable(UserRecord u, Actor actor, Instant now) {
        if (!u.enabled()) {
            audit.record(new AuditLog.Entry(actor, "auth.login", "user", u.id(), u.username(), null, null,
                    "account disabled", Outcome.REFUSED, null));
            throw new ApiException(403, "account-disabled", "Account disabled", "the account '" + u.username()
                    + "' is disabled; a user administrator can enable it", null);
        }
        if (u.lockedAt(now)) {
            audit.record(new AuditLog.Entry(actor, "auth.login", "user", u.id(), u.username(), null, null,
                    "account locked until " + u.lockedUntil(), Outcome.REFUSED, null));
            throw locked(u);
        }
        if (u.passwordExpiredAt(now)) {
            audit.record(new AuditLog.Entry(actor, "auth.login", "user", u.id(), u.username(), null, null,
                    "password expired at " + u.passwordExpiresAt(), Outcome.REFUSED, null));
            throw expired(u);
        }
    }

    public void logout(Principal p) {
        Instant now = Instant.now();
        repo.jdbi().useTransaction(h -> {
            repo.revoke(h, p.tokenId(), now);
            audit.record(h, new AuditLog.Entry(actor(p), "auth.logout", "user", p.userId(), p.username(), null, null,
                    null, Outcome.SUCCESS, null));
        });
    }

    /**
     * The principal of a bearer token; 401 {@code not-authenticated}, {@code token-expired} or
     * {@code session-timed-out} (automatic logoff, audited).
     */
    public Principal authenticate(String token, String address) {
        if (token == null || token.isBlank()) {
            throw notAuthenticated("no credentials: log in (POST /api/v1/auth/login, carevisor login) or send an API"
                    + " token as 'Authorization: Bearer <token>'");
        }
        Optional<UserRepository.Token> found = repo.tokenByHash(hash(token.trim()));
        if (found.isEmpty() || found.get().revokedAt() != null) {
            throw notAuthenticated(found.isEmpty() ? "the token is not valid; log in again"
                    : "the session or token has ended (logged off or revoked); log in again");
        }
        UserRepository.Token t = found.get();
        Instant now = Instant.now();
        UserRecord u = repo.find(t.userId()).orElseThrow(() -> notAuthenticated("the token's user no longer exists"));
        Actor actor = new Actor(u.username(), address, u.id(), null, null);
        if (!now.isBefore(t.expiresAt())) {
            end(t, actor, u, "auth.token-expired", "expired at " + t.expiresAt());
            throw new ApiException(401, "token-expired", "Token expired", (t.kind().equals(API) ? "the API token '"
                    + t.name() + "'" : "the login session") + " expired at " + t.expiresAt() + "; "
                    + (t.kind().equals(API) ? "create a new token" : "log in again"), null);
        }
        if (t.kind().equals(SESSION)) {
            Duration idle = Duration.ofMinutes(settings.sessionIdleMinutes());
            if (Duration.between(t.lastUsedAt(), now).compareTo(idle) > 0) {
                end(t, actor, u, "auth.logoff.automatic", "no request for " + settings.sessionIdleMinutes() + " min");
                throw new ApiException(401, "session-timed-out", "Logged off", "logged off automatically after "
                        + settings.sessionIdleMinutes() + " minutes without activity; log in again", null);
            }
        }
        if (!u.enabled()) {
            throw notAuthenticated("the account '" + u.username() + "' is disabled");
        }
        if (u.lockedAt(now)) {
            throw locked(u);
        }
        if (Duration.between(t.lastUsedAt(), now).compareTo(TOUCH_EVERY) > 0) {
            repo.touch(t.id(), now);
        }
        return new Principal(u.id(), u.username(), u.fullName(), t.id(), t.kind(), address, repo.grants(u.id()),
                u.mustChangePassword());
    }

    private void end(UserRepository.Token t, Actor actor, UserRecord u, String action, String why) {
        repo.jdbi().useTransaction(h -> {
            repo.revoke(h, t.id(), Instant.now());
            audit.record(h, new AuditLog.Entry(actor, action, "user", u.id(), u.username(), null,
                    Map.of("token", t.id(), "kind", t.kind()), why, Outcome.REFUSED, null));
        });
    }

    // ---- passwords

    /**
     * Changes the caller's own password (the current one is required; it passes the same rate limits and
     * lockout as a login). Ends an expiry of the old password; 409 {@code password-changed} when an administrator
     * reset it meanwhile.
     */
    public void changePassword(Principal p, String current, String next) {
        UserRecord u = repo.find(p.userId()).orElseThrow();
        LoginThrottle.Ticket ticket = throttle.admit(p.address(), u.username(), "user.password.change");
        if (current == null || !PasswordHasher.verify(current, u.passwordHash())) {
            failedAttempt(u, actor(p), "user.password.change", "wrong current password");
            throw new ApiException(403, "wrong-password", "Wrong password", "the current password is wrong",
                    List.of(new ApiException.FieldError("currentPassword", "is wrong")));
        }
        ticket.succeeded();
        if (u.passwordExpiredAt(Instant.now())) {
            throw expired(u);
        }
        checkPolicy(next, u, "newPassword");
        if (PasswordHasher.verify(next, u.passwordHash())) {
            throw ApiException.invalid("newPassword", "must differ from the current password");
        }
        String newHash = PasswordHasher.hash(next);
        Instant now = Instant.now();
        repo.jdbi().useTransaction(h -> {
            if (repo.setPassword(h, u.id(), newHash, false, now, null, u.passwordHash(), false) == 0) {
                throw ApiException.conflict("password-changed", "the password was reset by a user administrator"
                        + " meanwhile; log in with the new one");
            }
            audit.record(h, new AuditLog.Entry(actor(p), "user.password.change", "user", u.id(), u.username(), null,
                    null, u.passwordExpiresAt() != null ? "replaces a password that would expire at "
                    + u.passwordExpiresAt() : null, Outcome.SUCCESS, null));
        });
    }

    void checkPolicy(String password, UserRecord u, String field) {
        if (password == null || password.length() < settings.passwordMinLength()) {
            throw ApiException.invalid(field, "must have at least " + settings.passwordMinLength() + " characters");
        }
        if (password.length() > 1024) {
            throw ApiException.invalid(field, "must have at most 1024 characters");
        }
        if (u != null && password.toLowerCase(java.util.Locale.ROOT).contains(u.username().toLowerCase(java.util.Locale.ROOT))) {
            throw ApiException.invalid(field, "must not contain the user name");
        }
        if (password.chars().distinct().count() < 5) {
            throw ApiException.invalid(field, "is too simple (fewer than 5 different characters)");
        }
    }

    // ---- API tokens

    /** A new API token of the caller; the secret is shown only in this answer. */
    public Issued createApiToken(Principal p, String name, Integer days) {
        List<ApiException.FieldError> errors = new ArrayList<>();
        if (name == null || !name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            errors.add(new ApiException.FieldError("name", "is required: letters, digits, '.', '_', '-', at most 64"));
        }
        int d = days == null ? 90 : days;
        if (d < 1 || d > settings.apiTokenMaxDays()) {
            errors.add(new ApiException.FieldError("expiresInDays", "must be between 1 and " + settings.apiTokenMaxDays()));
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        if (repo.tokens(p.userId(), API).stream().anyMatch(t -> t.name().equals(name))) {
            throw ApiException.conflict("name-taken", "name", "you already have an API token named '" + name + "'");
        }
        Instant now = Instant.now();
        Instant expires = now.plus(Duration.ofDays(d));
        String id = UUID.randomUUID().toString();
        String token = "cvt_" + secret();
        repo.jdbi().useTransaction(h -> {
            repo.insertToken(h, new UserRepository.Token(id, p.userId(), API, name, now, now, expires, null, p.address()),
                    hash(token));
            audit.record(h, new AuditLog.Entry(actor(p), "auth.token.create", "user", p.userId(), p.username(), null,
                    Map.of("token", id, "name", name, "expiresAt", expires.toString()), null, Outcome.SUCCESS, null));
        });
        return new Issued(id, token, API, name, expires, null, p.username(), p.fullName(), false);
    }

    public List<UserRepository.Token> apiTokens(String userId) {
        return repo.tokens(userId, API);
    }

    /** Revokes an API token of the caller (or of anyone, for a user administrator). */
    public void revokeToken(Principal p, String tokenId, boolean admin) {
        UserRepository.Token t = repo.token(tokenId).filter(x -> x.kind().equals(API))
                .filter(x -> admin || x.userId().equals(p.userId()))
                .orElseThrow(() -> ApiException.notFound("API token", tokenId));
        repo.jdbi().useTransaction(h -> {
            repo.revoke(h, t.id(), Instant.now());
            audit.record(h, new AuditLog.Entry(actor(p), "auth.token.revoke", "user", t.userId(), t.name(), null,
                    Map.of("token", t.id()), null, Outcome.SUCCESS, null));
        });
    }

    // ---- electronic signatures

    /**
     * Checks an electronic signature: the signer must be the caller and re-enter their password; the meaning
     * must be one of {@link SecuritySettings#MEANINGS}. A wrong password is a failed attempt (audited, counts
     * towards lockout): 403 {@code signature-invalid}.
     */
    public Actor.Signature sign(Principal p, SignatureRequest s, String action) {
        if (s == null) {
            throw new ApiException(403, "signature-required", "Signature required", action + " is a critical action:"
                    + " sign it with your user name, password and the meaning of the signature ("
                    + String.join(", ", SecuritySettings.MEANINGS) + ")",
                    List.of(new ApiException.FieldError("signature", "is required for " + action)));
        }
        List<ApiException.FieldError> errors = new ArrayList<>();
        if (s.username() == null || s.username().isBlank()) {
            errors.add(new ApiException.FieldError("signature.username", "is required"));
        }
        if (s.password() == null || s.password().isEmpty()) {
            errors.add(new ApiException.FieldError("signature.password", "is required"));
        }
        if (s.meaning() == null || !SecuritySettings.MEANINGS.contains(s.meaning())) {
            errors.add(new ApiException.FieldError("signature.meaning", "must be one of "
                    + String.join(", ", SecuritySettings.MEANINGS)));
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        UserRecord u = repo.find(p.userId()).orElseThrow();
        if (!s.username().equals(u.username())) {
            audit.record(new AuditLog.Entry(actor(p), "signature.failed", "user", u.id(), u.username(), null, null,
                    action + ": signed as '" + (s.username().length() > 64 ? s.username().substring(0, 64) + "..."
                    : s.username()) + "', not as the logged-in user", Outcome.REFUSED, null));
            throw new ApiException(403, "signature-invalid", "Signature refused", "a signature must be made by the"
                    + " logged-in user '" + u.username() + "' with their own password",
                    List.of(new ApiException.FieldError("signature.username", "is not the logged-in user")));
        }
        LoginThrottle.Ticket ticket = throttle.admit(p.address(), u.username(), "signature");
        if (!PasswordHasher.verify(s.password(), u.passwordHash())) {
            failedAttempt(u, actor(p), "signature.failed", action + ": wrong password");
            throw new ApiException(403, "signature-invalid", "Signature refused", "the password of the signature is"
                    + " wrong; nothing was done", List.of(new ApiException.FieldError("signature.password", "is wrong")));
        }
        ticket.succeeded();
        if (u.passwordExpiredAt(Instant.now())) {
            audit.record(new AuditLog.Entry(actor(p), "signature.failed", "user", u.id(), u.username(), null, null,
                    action + ": the password expired at " + u.passwordExpiresAt(), Outcome.REFUSED, null));
            throw expired(u);
        }
        if (u.failedLogins() > 0) {
            repo.jdbi().useHandle(h -> repo.resetFailures(h, u.id(), Instant.now()));
        }
        return new Actor.Signature(u.id(), u.fullName(), s.meaning(), Sql.now());
    }

    // ---- lockout

    /**
     * Counts a failed attempt: under the account's row lock, in SQL ({@link UserRepository#countFailure}), so each
     * of many parallel attempts is counted once and the account locks at exactly the threshold. Each attempt is
     * audited with its number; one that finds the account locked meanwhile is audited as not counted. A lockout
     * ends the account's sessions and API tokens.
     */
    private void failedAttempt(UserRecord u, Actor actor, String action, String why) {
        SecuritySettings s = settings;
        Instant now = Instant.now();
        Instant until = s.lockoutMinutes() == 0 ? Instant.parse("9999-12-31T00:00:00Z")
                : now.plus(Duration.ofMinutes(s.lockoutMinutes()));
        int[] locked = {0};
        repo.jdbi().useTransaction(h -> {
            UserRecord current = repo.findForUpdate(h, u.id()).orElse(null);
            if (current == null) {
                return;
            }
            if (current.lockedAt(now)) {
                audit.record(h, new AuditLog.Entry(actor, action, "user", u.id(), u.username(), null, null,
                        why + "; the account was locked meanwhile (not counted)", Outcome.FAILURE, null));
                return;
            }
            int failures = current.failedLogins() + 1;
            repo.countFailure(h, u.id(), s.lockoutThreshold(), until, now);
            audit.record(h, new AuditLog.Entry(actor, action, "user", u.id(), u.username(), null,
                    Map.of("failedAttempts", failures), why, Outcome.FAILURE, null));
            if (failures >= s.lockoutThreshold()) {
                locked[0] = failures;
                int sessions = repo.revokeAll(h, u.id(), SESSION, now);
                int tokens = repo.revokeAll(h, u.id(), API, now);
                audit.record(h, new AuditLog.Entry(Actor.system("security"), "user.locked", "user", u.id(),
                        u.username(), Map.of("locked", false), Map.of("locked", true, "until", until.toString(),
                        "revoked", Map.of("sessions", sessions, "apiTokens", tokens)),
                        failures + " failed attempts in a row", Outcome.SUCCESS, null));
            }
        });
        if (locked[0] > 0) {
            LOG.warn("account {} locked after {} failed attempts; its sessions and API tokens are revoked",
                    u.username(), locked[0]);
        }
    }

    /** Forgets quiet rate-limit keys (the job {@code login-limits}). */
    public void sweepLimits() {
        throttle.sweep();
    }

    // ---- helpers

    static Actor actor(Principal p) {
        return new Actor(p.username(), p.address(), p.userId(), null, null);
    }

    private static ApiException loginFailed() {
        return new ApiException(401, "login-failed", "Login failed", "user name or password is wrong", null);
    }

    private static ApiException locked(UserRecord u) {
        return new ApiException(403, "account-locked", "Account locked", "the account '" + u.username()
                + "' is locked after repeated failed logins" + (u.lockedUntil().getEpochSecond() > 253_000_000_000L
                ? " until a user administrator unlocks it" : " until " + u.lockedUntil()
                + " (or until a user administrator unlocks it)"), null);
    }

    private static ApiException expired(UserRecord u) {
        return new ApiException(403, "password-expired", "Password expired", "the password of '" + u.username()
                + "' stopped working at " + u.passwordExpiresAt() + " (the first administrator's initial password is"
                + " a one-time credential for setting up); a user administrator can reset it, or, on the manager's"
                + " machine with the manager stopped: ./carevisor emergency-access --user " + u.username()
                + " --reason \"...\"", null);
    }

    private static ApiException notAuthenticated(String detail) {
        return new ApiException(401, "not-authenticated", "Not authenticated", detail, null);
    }

    static String secret() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    static String hash(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static com.fasterxml.jackson.databind.JsonNode readTree(String s) {
        try {
            return Json.mapper().readTree(s);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the stored security settings are not JSON", e);
        }
    }

    private static final String DUMMY_HASH = PasswordHasher.hash("carevisor-timing-equalizer");

    /** Public view of a token (no secret). */
    public static Map<String, Object> view(UserRepository.Token t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", t.id());
        m.put("name", t.name());
        m.put("kind", t.kind());
        m.put("createdAt", t.createdAt());
        m.put("lastUsedAt", t.lastUsedAt());
        m.put("expiresAt", t.expiresAt());
        return m;
    }
}
