package org.carevisor.manager.security;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.db.Sql;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * One-time join tokens for host enrollment. Only a token's SHA-256 is stored; a token is good for one
 * enrollment before its expiry. A token either adds a new host (to a cluster) or is issued for one existing
 * host, which it alone can enroll again. Thread-safe (the database decides who uses a token first).
 */
public final class JoinTokens {
    public static final String PREFIX = "CVJ1.";
    private static final SecureRandom RANDOM = new SecureRandom();
    public static final Duration MAX_TTL = Duration.ofDays(7);

    private final Jdbi jdbi;

    public JoinTokens(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** A new token: the secret is shown once, here. */
    public record Issued(String id, String token, Instant expiresAt) {
    }

    /** What is listed about a token (never the secret); {@code hostId}: the host it re-enrolls, or null. */
    public record Info(String id, Instant createdAt, String createdBy, Instant expiresAt, Instant usedAt,
                       String usedByHost, String clusterId, String hostId) {
    }

    /**
     * What a good token allows: {@code hostId} null adds a new host to {@code clusterId} (null: the default
     * cluster); otherwise it enrolls that existing host again.
     */
    public record Grant(String tokenId, String clusterId, String hostId) {
        public boolean forHost() {
            return hostId != null;
        }
    }

    /** A token for a new host that joins {@code clusterId} (null: the default cluster). */
    public Issued create(Duration ttl, String createdBy, String clusterId) {
        return create(ttl, createdBy, clusterId, null);
    }

    /**
     * A token; with {@code hostId} it re-enrolls that host only (and {@code clusterId} must be null: the host
     * stays in its cluster).
     */
    public Issued create(Duration ttl, String createdBy, String clusterId, String hostId) {
        if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_TTL) > 0) {
            throw ApiException.invalid("ttlMinutes", "must be between 1 and " + MAX_TTL.toMinutes());
        }
        if (hostId != null && clusterId != null) {
            throw ApiException.invalid("cluster", "a token for an existing host keeps the host in its cluster; leave"
                    + " out cluster (move the host afterwards with carevisor host set HOST --cluster C, PATCH /api/v1/hosts/{id})");
        }
        byte[] secret = new byte[32];
        RANDOM.nextBytes(secret);
        String token = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
        String id = UUID.randomUUID().toString();
        Instant now = Instant.now();
        Instant expires = now.plus(ttl);
        jdbi.useHandle(h -> h.createUpdate("""
                INSERT INTO join_tokens (id, token_hash, created_at, created_by, expires_at, cluster_id, host_id)
                VALUES (:id, :hash, :now, :by, :exp, :cluster, :host)""").bind("id", id).bind("hash", hash(token))
                .bind("cluster", clusterId).bind("host", hostId)
                .bind("now", Sql.ts(now)).bind("by", createdBy).bind("exp", Sql.ts(expires)).execute());
        return new Issued(id, token, expires);
    }

    /**
     * Checks a token without using it (before anything else of an enrollment request is looked at); throws 401
     * naming why a token is not good (missing, unknown, already used, expired).
     */
    public Grant check(String token) {
        return jdbi.withHandle(h -> {
            Optional<Object[]> row = row(h, token);
            Object[] r = row.orElseThrow(() -> invalid("the join token is not known"));
            refuseSpent(r);
            return new Grant((String) r[3], (String) r[4], (String) r[5]);
        });
    }

    /**
     * Uses a token for {@code hostId} inside the caller's transaction (rolled back with it, so a refused
     * enrollment leaves the token unused) and returns what it grants; throws like {@link #check}.
     */
    public Grant consume(Handle h, String token, String hostId) {
        Object[] r = row(h, token).orElseThrow(() -> invalid("the join token is not known"));
        Instant now = Instant.now();
        int used = h.createUpdate("""
                UPDATE join_tokens SET used_at = :now, used_by_host = :host
                WHERE token_hash = :hash AND used_at IS NULL AND expires_at > :now""")
                .bind("now", Sql.ts(now)).bind("host", hostId).bind("hash", hash(token)).execute();
        if (used != 1) {
            refuseSpent(row(h, token).orElse(r));
            throw invalid("the join token cannot be used");
        }
        return new Grant((String) r[3], (String) r[4], (String) r[5]);
    }

    private static Optional<Object[]> row(Handle h, String token) {
        if (token == null || !token.startsWith(PREFIX) || token.length() > 100) {
            throw invalid("the join token is missing or malformed (it starts with " + PREFIX + ")");
        }
        return h.createQuery("""
                SELECT id, used_at, used_by_host, expires_at, cluster_id, host_id FROM join_tokens
                WHERE token_hash = :hash""")
                .bind("hash", hash(token)).map((rs, c) -> new Object[] {Sql.instant(rs, "used_at"),
                        rs.getString("used_by_host"), Sql.instant(rs, "expires_at"), rs.getString("id"),
                        rs.getString("cluster_id"), rs.getString("host_id")}).findOne();
    }

    private static void refuseSpent(Object[] r) {
        if (r[0] != null) {
            throw new ApiException(401, "join-token-used", "Enrollment refused", "the join token was already used at "
                    + r[0] + " (by host " + r[1] + "); create a new one", null);
        }
        if (!((Instant) r[2]).isAfter(Instant.now())) {
            throw new ApiException(401, "join-token-expired", "Enrollment refused", "the join token expired at " + r[2]
                    + "; create a new one", null);
        }
    }

    private static ApiException invalid(String detail) {
        return new ApiException(401, "join-token-invalid", "Enrollment refused", detail, null);
    }

    public List<Info> list() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM join_tokens ORDER BY created_at DESC")
                .map((rs, c) -> new Info(rs.getString("id"), Sql.instant(rs, "created_at"), rs.getString("created_by"),
                        Sql.instant(rs, "expires_at"), Sql.instant(rs, "used_at"), rs.getString("used_by_host"),
                        rs.getString("cluster_id"), rs.getString("host_id")))
                .list());
    }

    static String hash(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(
                    java.nio.charset.StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
