package org.carevisor.manager.auth;

import java.time.Instant;

/** A user account. Accounts are never deleted (the audit trail refers to them), only disabled. */
public record UserRecord(String id, String username, String fullName, String email, String passwordHash,
                         boolean enabled, boolean mustChangePassword, int failedLogins, Instant lockedUntil,
                         boolean emergency, Instant passwordChangedAt, Instant lastLoginAt, Instant createdAt) {
    public boolean lockedAt(Instant now) {
        return lockedUntil != null && lockedUntil.isAfter(now);
    }
}
