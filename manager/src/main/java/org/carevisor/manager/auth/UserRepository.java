package org.carevisor.manager.auth;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.carevisor.manager.db.Sql;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Users, roles, role assignments and authentication tokens in the database. Accounts change only through
 * targeted updates of the columns an operation decides. Thread-safe.
 */
public final class UserRepository {
    /** A role assignment with the role's name. */
    public record Assignment(String id, String userId, String roleId, String roleName, String scopeType, String scopeId,
                             Instant createdAt) {
    }

    /** A session or API token (its secret is stored only as a SHA-256 hash). */
    public record Token(String id, String userId, String kind, String name, Instant createdAt, Instant lastUsedAt,
                        Instant expiresAt, Instant revokedAt, String clientAddress) {
    }

    private final Jdbi jdbi;

    public UserRepository(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    public Jdbi jdbi() {
        return jdbi;
    }

    public List<UserRecord> list() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM users ORDER BY username").map((rs, c) -> user(rs)).list());
    }

    public long count() {
        return jdbi.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM users").mapTo(Long.class).one());
    }

    public Optional<UserRecord> find(String id) {
        return jdbi.withHandle(h -> find(h, id));
    }

    public Optional<UserRecord> find(Handle h, String id) {
        return h.createQuery("SELECT * FROM users WHERE id = :id").bind("id", id).map((rs, c) -> user(rs)).findOne();
    }

    public Optional<UserRecord> findByName(String username) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM users WHERE username = :u").bind("u", username)
                .map((rs, c) -> user(rs)).findOne());
    }

    public void insert(Handle h, UserRecord u) {
        h.createUpdate("""
                INSERT INTO users (id, username, full_name, email, password_hash, enabled, must_change_password,
                  failed_logins, locked_until, emergency, password_changed_at, last_login_at, created_at,
                  password_expires_at)
                VALUES (:id, :username, :fullName, :email, :hash, :enabled, :mustChange, :failed, :lockedUntil,
                  :emergency, :changed, :lastLogin, :created, :expires)""")
                .bindMap(values(u)).execute();
    }

    // ---- targeted updates: each writes only the columns its operation decides, so a concurrent change of the
    // ---- others (a disable, a password reset, another failed attempt) is never undone by a stale copy

    /** The account, its row locked until the transaction ends (serialises failed-attempt counting). */
    public Optional<UserRecord> findForUpdate(Handle h, String id) {
        return h.createQuery("SELECT * FROM users WHERE id = :id FOR UPDATE").bind("id", id).map((rs, c) -> user(rs))
                .findOne();
    }

    /**
     * Counts one failed attempt in SQL: increments {@code failed_logins} and, in the same statement, locks the
     * account until {@code until} when the count reaches {@code threshold} (the counter then starts again from 0).
     * An account locked at {@code now} is left alone (the attempt does not count). Returns the rows changed (0 or 1).
     */
    public int countFailure(Handle h, String id, int threshold, Instant until, Instant now) {
        return h.createUpdate("""
                UPDATE users SET
                  locked_until = CASE WHEN failed_logins + 1 >= :t THEN :until ELSE locked_until END,
                  failed_logins = CASE WHEN failed_logins + 1 >= :t THEN 0 ELSE failed_logins + 1 END
                WHERE id = :id AND (locked_until IS NULL OR locked_until <= :now)""")
                .bind("t", threshold).bind("until", Sql.ts(until)).bind("now", Sql.ts(now)).bind("id", id).execute();
    }

    /**
     * Records a successful login: failures forgotten, an expired lock cleared, the login time - only while the
     * account is still enabled, not locked, its password unexpired and still the one that was checked
     * ({@code checkedHash}). Returns 0 when any of that changed meanwhile (the login must then be refused).
     */
    public int loggedIn(Handle h, String id, String checkedHash, Instant now) {
        return h.createUpdate("""
                UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = :now
                WHERE id = :id AND enabled = TRUE AND password_hash = :hash
                  AND (locked_until IS NULL OR locked_until <= :now)
                  AND (password_expires_at IS NULL OR password_expires_at > :now)""")
                .bind("now", Sql.ts(now)).bind("id", id).bind("hash", checkedHash).execute();
    }

    /** Forgets failed attempts after a right password (a signature); leaves a lock alone. */
    public void resetFailures(Handle h, String id, Instant now) {
        h.createUpdate("""
                UPDATE users SET failed_logins = 0
                WHERE id = :id AND failed_logins > 0 AND (locked_until IS NULL OR locked_until <= :now)""")
                .bind("id", id).bind("now", Sql.ts(now)).execute();
    }

    /**
     * Sets a new password hash (failures forgotten; {@code unlock}: a lock too). With {@code expectedHash}, only
     * while the stored hash is still that one (a password change racing an administrator's reset loses). Returns
     * the rows changed.
     */
    public int setPassword(Handle h, String id, String hash, boolean mustChange, Instant at, Instant expiresAt,
                           String expectedHash, boolean unlock) {
        return h.createUpdate("UPDATE users SET password_hash = :hash, must_change_password = :mustChange,"
                        + " password_changed_at = :at, password_expires_at = :expires, failed_logins = 0"
                        + (unlock ? ", locked_until = NULL" : "") + " WHERE id = :id"
                        + (expectedHash != null ? " AND password_hash = :expected" : ""))
                .bind("hash", hash).bind("mustChange", mustChange).bind("at", Sql.ts(at))
                .bind("expires", Sql.ts(expiresAt)).bind("id", id).bind("expected", expectedHash).execute();
    }

    /** Changes the given profile fields only (null: unchanged; an empty e-mail removes it). */
    public void updateProfile(Handle h, String id, String fullName, String email, Boolean enabled) {
        List<String> sets = new ArrayList<>();
        if (fullName != null) {
            sets.add("full_name = :fullName");
        }
        if (email != null) {
            sets.add("email = :email");
        }
        if (enabled != null) {
            sets.add("enabled = :enabled");
        }
        if (sets.isEmpty()) {
            return;
        }
        h.createUpdate("UPDATE users SET " + String.join(", ", sets) + " WHERE id = :id").bind("id", id)
                .bind("fullName", fullName).bind("email", email == null || email.isEmpty() ? null : email)
                .bind("enabled", enabled).execute();
    }

    /** Unlocks: failures forgotten, lock removed. */
    public void unlock(Handle h, String id) {
        h.createUpdate("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = :id").bind("id", id)
                .execute();
    }

    /**
     * Gives the first administrator's initial password an expiry when it has none yet: the account {@code admin}
     * made at the first start by an earlier version, with the password it was given then (never changed, no change
     * required). Returns the rows changed.
     */
    public int expireInitialPassword(Handle h, Instant at) {
        return h.createUpdate("""
                UPDATE users SET password_expires_at = :at
                WHERE username = 'admin' AND emergency = FALSE AND must_change_password = FALSE
                  AND password_expires_at IS NULL AND password_changed_at = created_at""")
                .bind("at", Sql.ts(at)).execute();
    }

    private static Map<String, Object> values(UserRecord u) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", u.id());
        m.put("username", u.username());
        m.put("fullName", u.fullName());
        m.put("email", u.email());
        m.put("hash", u.passwordHash());
        m.put("enabled", u.enabled());
        m.put("mustChange", u.mustChangePassword());
        m.put("failed", u.failedLogins());
        m.put("lockedUntil", Sql.ts(u.lockedUntil()));
        m.put("emergency", u.emergency());
        m.put("changed", Sql.ts(u.passwordChangedAt()));
        m.put("lastLogin", Sql.ts(u.lastLoginAt()));
        m.put("created", Sql.ts(u.createdAt()));
        m.put("expires", Sql.ts(u.passwordExpiresAt()));
        return m;
    }

    private static UserRecord user(ResultSet rs) throws SQLException {
        return new UserRecord(rs.getString("id"), rs.getString("username"), rs.getString("full_name"),
                rs.getString("email"), rs.getString("password_hash"), rs.getBoolean("enabled"),
                rs.getBoolean("must_change_password"), rs.getInt("failed_logins"), Sql.instant(rs, "locked_until"),
                rs.getBoolean("emergency"), Sql.instant(rs, "password_changed_at"), Sql.instant(rs, "last_login_at"),
                Sql.instant(rs, "created_at"), Sql.instant(rs, "password_expires_at"));
    }

    // ---- roles

    public List<RoleRecord> roles() {
        return jdbi.withHandle(this::roles);
    }

    public List<RoleRecord> roles(Handle h) {
        Map<String, Set<Privilege>> privileges = new LinkedHashMap<>();
        h.createQuery("SELECT role_id, privilege FROM role_privileges").map((rs, c) -> {
            Privilege p = Privilege.parse(rs.getString("privilege"));
            if (p != null) {
                privileges.computeIfAbsent(rs.getString("role_id"), k -> EnumSet.noneOf(Privilege.class)).add(p);
            }
            return null;
        }).list();
        return h.createQuery("SELECT * FROM roles ORDER BY builtin DESC, name").map((rs, c) -> new RoleRecord(
                rs.getString("id"), rs.getString("name"), rs.getString("description"), rs.getBoolean("builtin"),
                Set.copyOf(privileges.getOrDefault(rs.getString("id"), EnumSet.noneOf(Privilege.class))))).list();
    }

    public void insertRole(Handle h, RoleRecord r) {
        h.createUpdate("INSERT INTO roles (id, name, description, builtin, created_at) VALUES (:id, :n, :d, :b, :t)")
                .bind("id", r.id()).bind("n", r.name()).bind("d", r.description()).bind("b", r.builtin())
                .bind("t", Sql.ts(Instant.now())).execute();
        setPrivileges(h, r.id(), r.privileges());
    }

    public void setPrivileges(Handle h, String roleId, Set<Privilege> privileges) {
        h.createUpdate("DELETE FROM role_privileges WHERE role_id = :r").bind("r", roleId).execute();
        for (Privilege p : privileges) {
            h.createUpdate("INSERT INTO role_privileges (role_id, privilege) VALUES (:r, :p)").bind("r", roleId)
                    .bind("p", p.id()).execute();
        }
    }

    public void deleteRole(Handle h, String roleId) {
        h.createUpdate("DELETE FROM roles WHERE id = :r").bind("r", roleId).execute();
    }

    // ---- assignments

    /** The name of the cluster, host or VM a scope names (null for the global scope or a removed object). */
    public String scopeName(String type, String id) {
        String table = switch (type == null ? "" : type) {
            case Scope.CLUSTER -> "clusters";
            case Scope.HOST -> "hosts";
            case Scope.VM -> "vms";
            default -> null;
        };
        if (table == null || id == null) {
            return null;
        }
        return jdbi.withHandle(h -> h.createQuery("SELECT name FROM " + table + " WHERE id = :id").bind("id", id)
                .mapTo(String.class).findOne().orElse(null));
    }

    public List<Assignment> assignments(String userId) {
        return jdbi.withHandle(h -> assignments(h, userId));
    }

    public List<Assignment> assignments(Handle h, String userId) {
        return h.createQuery("""
                SELECT a.*, r.name AS role_name FROM role_assignments a JOIN roles r ON r.id = a.role_id
                WHERE (:u IS NULL OR a.user_id = :u) ORDER BY a.created_at, a.id""")
                .bind("u", userId)
                .map((rs, c) -> new Assignment(rs.getString("id"), rs.getString("user_id"), rs.getString("role_id"),
                        rs.getString("role_name"), rs.getString("scope_type"), rs.getString("scope_id"),
                        Sql.instant(rs, "created_at"))).list();
    }

    public void insertAssignment(Handle h, Assignment a) {
        h.createUpdate("""
                INSERT INTO role_assignments (id, user_id, role_id, scope_type, scope_id, created_at)
                VALUES (:id, :u, :r, :t, :s, :c)""").bind("id", a.id()).bind("u", a.userId()).bind("r", a.roleId())
                .bind("t", a.scopeType()).bind("s", a.scopeId()).bind("c", Sql.ts(a.createdAt())).execute();
    }

    public void deleteAssignment(Handle h, String id) {
        h.createUpdate("DELETE FROM role_assignments WHERE id = :id").bind("id", id).execute();
    }

    /** The grants of a user: each assignment's role privileges on its scope. */
    public List<Principal.Grant> grants(String userId) {
        return jdbi.withHandle(h -> {
            Map<String, RoleRecord> roles = new LinkedHashMap<>();
            roles(h).forEach(r -> roles.put(r.id(), r));
            List<Principal.Grant> out = new ArrayList<>();
            for (Assignment a : assignments(h, userId)) {
                RoleRecord r = roles.get(a.roleId());
                if (r != null) {
                    out.add(new Principal.Grant(r.name(), r.privileges(), new Scope(a.scopeType(), a.scopeId())));
                }
            }
            return out;
        });
    }

    // ---- tokens

    public void insertToken(Handle h, Token t, String hash) {
        h.createUpdate("""
                INSERT INTO auth_tokens (id, token_hash, user_id, kind, name, created_at, last_used_at, expires_at,
                  client_address) VALUES (:id, :hash, :u, :kind, :name, :c, :c, :e, :a)""")
                .bind("id", t.id()).bind("hash", hash).bind("u", t.userId()).bind("kind", t.kind()).bind("name", t.name())
                .bind("c", Sql.ts(t.createdAt())).bind("e", Sql.ts(t.expiresAt())).bind("a", t.clientAddress())
                .execute();
    }

    public Optional<Token> tokenByHash(String hash) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM auth_tokens WHERE token_hash = :h").bind("h", hash)
                .map((rs, c) -> token(rs)).findOne());
    }

    public Optional<Token> token(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM auth_tokens WHERE id = :id").bind("id", id)
                .map((rs, c) -> token(rs)).findOne());
    }

    public List<Token> tokens(String userId, String kind) {
        return jdbi.withHandle(h -> h.createQuery("""
                SELECT * FROM auth_tokens WHERE user_id = :u AND kind = :k AND revoked_at IS NULL
                ORDER BY created_at DESC""").bind("u", userId).bind("k", kind).map((rs, c) -> token(rs)).list());
    }

    public void touch(String id, Instant at) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE auth_tokens SET last_used_at = :t WHERE id = :id")
                .bind("t", Sql.ts(at)).bind("id", id).execute());
    }

    public void revoke(Handle h, String id, Instant at) {
        h.createUpdate("UPDATE auth_tokens SET revoked_at = :t WHERE id = :id AND revoked_at IS NULL")
                .bind("t", Sql.ts(at)).bind("id", id).execute();
    }

    /** Revokes every live token of {@code kind} of the user; returns how many. */
    public int revokeAll(Handle h, String userId, String kind, Instant at) {
        return h.createUpdate("UPDATE auth_tokens SET revoked_at = :t WHERE user_id = :u AND kind = :k AND revoked_at IS NULL")
                .bind("t", Sql.ts(at)).bind("u", userId).bind("k", kind).execute();
    }

    private static Token token(ResultSet rs) throws SQLException {
        return new Token(rs.getString("id"), rs.getString("user_id"), rs.getString("kind"), rs.getString("name"),
                Sql.instant(rs, "created_at"), Sql.instant(rs, "last_used_at"), Sql.instant(rs, "expires_at"),
                Sql.instant(rs, "revoked_at"), rs.getString("client_address"));
    }

    // ---- settings

    public Optional<String> setting(String name) {
        return jdbi.withHandle(h -> h.createQuery("SELECT setting_value FROM settings WHERE name = :n").bind("n", name)
                .mapTo(String.class).findOne());
    }

    public void putSetting(Handle h, String name, String value) {
        int n = h.createUpdate("UPDATE settings SET setting_value = :v, updated_at = :t WHERE name = :n").bind("n", name)
                .bind("v", value).bind("t", Sql.ts(Instant.now())).execute();
        if (n == 0) {
            h.createUpdate("INSERT INTO settings (name, setting_value, updated_at) VALUES (:n, :v, :t)").bind("n", name)
                    .bind("v", value).bind("t", Sql.ts(Instant.now())).execute();
        }
    }
}
