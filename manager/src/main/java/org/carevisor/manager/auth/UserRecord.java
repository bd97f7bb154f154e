package org.carevisor.manager.auth;

import java.time.Instant;

/** A user account. Accounts are never deleted (the audit trail refers to them), only disabled. */
public record UserRecord(String id, String username, String fullName, String email, String passwordHash,
                         boolean enabled, boolean mustChangePassword, int failedLogins, Instant lockedUntil,
                         boolean emergency, Instant passwordChangedAt, Instant lastLoginAt, Instant createdAt) {
    public boolean lockedAt(Instant now) {
        return lockedUntil != null && lockedUntil.isAfter(now);
    }

    /** This account with {@code failures} failed attempts in a row, locked until {@code until} (null: not locked). */
    public UserRecord withFailures(int failures, Instant until) {
        return new UserRecord(id, username, fullName, email, passwordHash, enabled, mustChangePassword, failures, until,
                emergency, passwordChangedAt, lastLoginAt, createdAt);
    }

    /** This account after a login at {@code at}: failures forgotten, not locked. */
    public UserRecord loggedInAt(Instant at) {
        return new UserRecord(id, username, fullName, email, passwordHash, enabled, mustChangePassword, 0, null,
                emergency, passwordChangedAt, at, createdAt);
    }

    /** This account with a new password hash set at {@code at}: failures forgotten, not locked. */
    public UserRecord withPassword(String hash, boolean mustChange, Instant at) {
        return new UserRecord(id, username, fullName, email, hash, enabled, mustChange, 0, null, emergency, at,
                lastLoginAt, createdAt);
    }

    public UserRecord withEnabled(boolean on) {
        return new UserRecord(id, username, fullName, email, passwordHash, on, mustChangePassword, failedLogins,
                lockedUntil, emergency, passwordChangedAt, lastLoginAt, createdAt);
    }
}
