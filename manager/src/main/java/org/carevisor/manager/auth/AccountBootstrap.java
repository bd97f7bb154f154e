package org.carevisor.manager.auth;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The accounts the manager makes itself: the built-in roles and the first administrator at the first start (with
 * a one-time initial password that expires), and emergency access (break glass) on the manager's machine. Both
 * act as processes ({@code system:setup}, {@code system:emergency-console}), audited. Thread-safe.
 */
final class AccountBootstrap {
    private static final Logger LOG = LoggerFactory.getLogger(AccountBootstrap.class);
    private static final Map<String, String> BUILTIN_DESCRIPTIONS = Map.of(
            "administrator", "every privilege; for setting up and for emergencies",
            "operator", "runs and changes VMs, snapshots, migrations, templates (no qualification, hosts, users, audit)",
            "read-only", "sees the inventory and state, changes nothing",
            "auditor", "reads, exports and verifies the audit trail and signs reviews; changes nothing else");

    private final UserRepository repo;
    private final AuditLog audit;
    private final UserService users;

    AccountBootstrap(UserRepository repo, AuditLog audit, UserService users) {
        this.repo = repo;
        this.audit = audit;
        this.users = users;
    }

    /**
     * Creates missing built-in roles and, when there is no user yet, the first administrator. Its initial password
     * ({@code initialPassword}, or generated and printed) is a one-time credential for setting up: it stops working
     * after {@code validFor} unless the administrator sets their own before (which ends it at once). The account of
     * an earlier version still on its initial password gets that expiry now (audited).
     */
    public void bootstrap(String initialPassword, String printedTo, java.time.Duration validFor) {
        repo.jdbi().useTransaction(h -> {
            Map<String, RoleRecord> existing = new LinkedHashMap<>();
            repo.roles(h).forEach(r -> existing.put(r.name(), r));
            for (var e : UserService.BUILTIN.entrySet()) {
                RoleRecord r = existing.get(e.getKey());
                if (r == null) {
                    repo.insertRole(h, new RoleRecord(UUID.nameUUIDFromBytes(("role:" + e.getKey()).getBytes())
                            .toString(), e.getKey(), BUILTIN_DESCRIPTIONS.get(e.getKey()), true, e.getValue()));
                } else if (!r.privileges().equals(e.getValue())) {
                    repo.setPrivileges(h, r.id(), e.getValue());
                }
            }
        });
        if (repo.count() > 0) {
            Instant until = Instant.now().plus(validFor);
            repo.jdbi().useTransaction(h -> {
                if (repo.expireInitialPassword(h, until) > 0) {
                    UserRecord a = repo.findByName("admin").orElseThrow();
                    audit.record(h, new AuditLog.Entry(Actor.system("setup"), "user.password.expiry", "user", a.id(),
                            a.username(), Map.of("passwordExpiresAt", "never"),
                            Map.of("passwordExpiresAt", until.toString()), "the initial administrator password is a"
                            + " one-time credential for setting up; it ends unless changed before", Outcome.SUCCESS,
                            null));
                    LOG.warn("the initial password of 'admin' was never changed: it stops working at {} (change it:"
                            + " carevisor passwd)", until);
                }
            });
            return;
        }
        boolean generated = initialPassword == null || initialPassword.isEmpty();
        String password = generated ? UserService.temporaryPassword() : initialPassword;
        Instant now = Instant.now();
        Instant expires = now.plus(validFor);
        String id = UUID.randomUUID().toString();
        RoleRecord admin = users.role("administrator");
        String hash = PasswordHasher.hash(password);
        repo.jdbi().useTransaction(h -> {
            repo.insert(h, new UserRecord(id, "admin", "Administrator", null, hash, true,
                    generated, 0, null, false, now, null, now, expires));
            repo.insertAssignment(h, new UserRepository.Assignment(UUID.randomUUID().toString(), id, admin.id(),
                    admin.name(), Scope.GLOBAL, null, now));
            audit.record(h, new AuditLog.Entry(Actor.system("setup"), "user.create", "user", id, "admin", null,
                    Map.of("username", "admin", "roles", List.of("administrator@global"),
                            "passwordExpiresAt", expires.toString()),
                    "first start: initial administrator" + (generated ? " (generated password, must be changed)" : "")
                            + "; its initial password works until " + expires + " unless changed before",
                    Outcome.SUCCESS, null));
        });
        if (generated) {
            String banner = "\n  Initial administrator: user 'admin', password '" + password + "'\n"
                    + "  (shown only now; it must be changed at the first login: carevisor passwd; it works until "
                    + expires + ")\n";
            System.out.println(banner);
            LOG.warn("created the initial administrator 'admin'; its one-time password was printed to {}", printedTo);
        } else {
            LOG.info("created the initial administrator 'admin' with the password given at start; it works until {}"
                    + " unless changed before (carevisor passwd)", expires);
        }
    }

    /**
     * Emergency access (break glass), run on the manager's machine while the manager is stopped: enables and
     * unlocks {@code username} (creating the account {@code emergency} with the administrator role if
     * needed) with a new one-time password, audited as {@code user.emergency-access} for later review.
     */
    public String emergencyAccess(String username, String reason) {
        String password = UserService.temporaryPassword();
        String hash = PasswordHasher.hash(password);
        Instant now = Instant.now();
        Actor actor = Actor.system("emergency-console");
        UserRecord existing = repo.findByName(username).orElse(null);
        repo.jdbi().useTransaction(h -> {
            if (existing == null) {
                if (!username.equals("emergency")) {
                    throw new IllegalArgumentException("no user '" + username + "' (only 'emergency' is created on demand)");
                }
                String id = UUID.randomUUID().toString();
                RoleRecord admin = users.role("administrator");
                repo.insert(h, new UserRecord(id, username, "Emergency access", null, hash, true,
                        true, 0, null, true, now, null, now, null));
                repo.insertAssignment(h, new UserRepository.Assignment(UUID.randomUUID().toString(), id, admin.id(),
                        admin.name(), Scope.GLOBAL, null, now));
                audit.record(h, new AuditLog.Entry(actor, "user.emergency-access", "user", id, username, null,
                        Map.of("enabled", true, "roles", List.of("administrator@global")), reason, Outcome.SUCCESS, null));
            } else {
                repo.setPassword(h, existing.id(), hash, true, now, null, null, true);
                repo.updateProfile(h, existing.id(), null, null, true);
                audit.record(h, new AuditLog.Entry(actor, "user.emergency-access", "user", existing.id(), username,
                        Map.of("enabled", existing.enabled(), "locked", existing.lockedAt(now)),
                        Map.of("enabled", true, "locked", false, "mustChangePassword", true, "revoked",
                                users.revokeAll(h, existing.id())), reason, Outcome.SUCCESS, null));
            }
        });
        return password;
    }
}
