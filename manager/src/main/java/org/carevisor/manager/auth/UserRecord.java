package org.carevisor.manager.auth;

import java.time.Instant;

/**
 * A user account. Accounts are never deleted (the audit trail refers to them), only disabled. Changed only by
 * targeted updates of the columns an operation decides ({@link UserRepository}), never written back whole.
 *
 * @param passwordExpiresAt when the password stops working (the first administrator's initial password); null:
 *                          never
 */
public record UserRecord(String id, String username, String fullName, String email, String passwordHash,
                         boolean enabled, boolean mustChangePassword, int failedLogins, Instant lockedUntil,
                         boolean emergency, Instant passwordChangedAt, Instant lastLoginAt, Instant createdAt,
                         Instant passwordExpiresAt) {
    public boolean lockedAt(Instant now) {
        return lockedUntil != null && lockedUntil.isAfter(now);
    }

    /** True when the password has stopped working at {@code now}. */
    public boolean passwordExpiredAt(Instant now) {
        return passwordExpiresAt != null && !now.isBefore(passwordExpiresAt);
    }
}
