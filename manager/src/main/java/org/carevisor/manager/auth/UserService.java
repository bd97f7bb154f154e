package org.carevisor.manager.auth;

import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * User administration: accounts (created, changed, disabled - never deleted, so the audit trail always
 * names a real account), roles, role assignments on scopes, password resets, unlocking; the built-in roles
 * and the first administrator. Every change is audited with old and new value. Thread-safe.
 */
public final class UserService {
    private static final Logger LOG = LoggerFactory.getLogger(UserService.class);
    static final java.util.regex.Pattern USERNAME = java.util.regex.Pattern.compile("[a-z][a-z0-9._-]{1,63}");

    /** Built-in roles with fixed ids. */
    public static final Map<String, Set<Privilege>> BUILTIN = builtin();

    /** Request body of a new user. */
    public record Create(String username, String fullName, String email, String password, List<AssignmentRequest> roles) {
    }

    /** Request body of a user change. */
    public record Patch(String fullName, String email, Boolean enabled) {
    }

    /** Request body of a role assignment: {@code scope} is {@code global}, or {@code cluster|host|vm:<id or name>}. */
    public record AssignmentRequest(String role, String scope) {
    }

    /** Request body of a custom role. */
    public record RoleCreate(String name, String description, List<String> privileges) {
    }

    /** A new account or reset password: the password is shown once. */
    public record Created(Map<String, Object> user, String temporaryPassword) {
    }

    private final UserRepository repo;
    private final AuthService auth;
    private final AuditLog audit;
    private final Function<String, Scope> scopeResolver;

    /** {@code scopeResolver}: "cluster:icu" -> Scope(cluster, id); throws 404/400 for an unknown object. */
    public UserService(UserRepository repo, AuthService auth, AuditLog audit, Function<String, Scope> scopeResolver) {
        this.repo = repo;
        this.auth = auth;
        this.audit = audit;
        this.scopeResolver = scopeResolver;
    }

    private static Map<String, Set<Privilege>> builtin() {
        Map<String, Set<Privilege>> m = new LinkedHashMap<>();
        m.put("administrator", Set.copyOf(EnumSet.allOf(Privilege.class)));
        m.put("operator", Set.copyOf(EnumSet.of(Privilege.SYS_VIEW, Privilege.VM_POWER_STATE, Privilege.VM_CONSOLE,
                Privilege.VM_SNAPSHOT, Privilege.VM_EXPORT, Privilege.VM_MIGRATE, Privilege.VM_CONFIGURE,
                Privilege.TEMPLATE_MANAGE)));
        m.put("read-only", Set.of(Privilege.SYS_VIEW));
        m.put("auditor", Set.copyOf(EnumSet.of(Privilege.SYS_VIEW, Privilege.AUDIT_REVIEW)));
        return Map.copyOf(m);
    }

    private static final Map<String, String> BUILTIN_DESCRIPTIONS = Map.of(
            "administrator", "every privilege; for setting up and for emergencies",
            "operator", "runs and changes VMs, snapshots, migrations, templates (no qualification, hosts, users, audit)",
            "read-only", "sees the inventory and state, changes nothing",
            "auditor", "reads, exports and verifies the audit trail and signs reviews; changes nothing else");

    /** Creates missing built-in roles and, when there is no user yet, the first administrator. */
    public void bootstrap(String initialPassword, String printedTo) {
        repo.jdbi().useTransaction(h -> {
            Map<String, RoleRecord> existing = new LinkedHashMap<>();
            repo.roles(h).forEach(r -> existing.put(r.name(), r));
            for (var e : BUILTIN.entrySet()) {
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
            return;
        }
        boolean generated = initialPassword == null || initialPassword.isEmpty();
        String password = generated ? temporaryPassword() : initialPassword;
        Instant now = Instant.now();
        String id = UUID.randomUUID().toString();
        RoleRecord admin = role("administrator");
        repo.jdbi().useTransaction(h -> {
            repo.insert(h, new UserRecord(id, "admin", "Administrator", null, PasswordHasher.hash(password), true,
                    generated, 0, null, false, now, null, now));
            repo.insertAssignment(h, new UserRepository.Assignment(UUID.randomUUID().toString(), id, admin.id(),
                    admin.name(), Scope.GLOBAL, null, now));
            audit.record(h, new AuditLog.Entry(Actor.system("setup"), "user.create", "user", id, "admin", null,
                    Map.of("username", "admin", "roles", List.of("administrator@global")),
                    "first start: initial administrator" + (generated ? " (generated password, must be changed)" : ""),
                    Outcome.SUCCESS, null));
        });
        if (generated) {
            String banner = "\n  Initial administrator: user 'admin', password '" + password + "'\n"
                    + "  (shown only now; it must be changed at the first login: carevisor passwd)\n";
            System.out.println(banner);
            LOG.warn("created the initial administrator 'admin'; its one-time password was printed to {}", printedTo);
        } else {
            LOG.info("created the initial administrator 'admin' with the password given at start");
        }
    }

    // ---- users

    public List<Map<String, Object>> list() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (UserRecord u : repo.list()) {
            out.add(view(u));
        }
        return out;
    }

    public Map<String, Object> view(String ref) {
        return view(get(ref));
    }

    public UserRecord get(String ref) {
        return repo.find(ref).or(() -> repo.findByName(ref)).orElseThrow(() -> ApiException.notFound("user", ref));
    }

    public Map<String, Object> view(UserRecord u) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", u.id());
        m.put("username", u.username());
        m.put("fullName", u.fullName());
        m.put("email", u.email());
        m.put("enabled", u.enabled());
        m.put("locked", u.lockedAt(Instant.now()));
        m.put("lockedUntil", u.lockedAt(Instant.now()) ? u.lockedUntil() : null);
        m.put("failedLogins", u.failedLogins());
        m.put("mustChangePassword", u.mustChangePassword());
        m.put("emergency", u.emergency());
        m.put("passwordChangedAt", u.passwordChangedAt());
        m.put("lastLoginAt", u.lastLoginAt());
        m.put("createdAt", u.createdAt());
        m.put("roles", repo.assignments(u.id()).stream().map(UserService::assignmentView).toList());
        return m;
    }

    static Map<String, Object> assignmentView(UserRepository.Assignment a) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", a.id());
        m.put("role", a.roleName());
        m.put("scope", a.scopeId() == null ? a.scopeType() : a.scopeType() + ":" + a.scopeId());
        return m;
    }

    public Created create(Create c, Actor actor) {
        List<ApiException.FieldError> errors = new ArrayList<>();
        if (c.username() == null || !USERNAME.matcher(c.username()).matches()) {
            errors.add(new ApiException.FieldError("username", "is required: 2-64 characters, lower-case letters,"
                    + " digits, '.', '_', '-', starting with a letter"));
        }
        if (c.fullName() == null || c.fullName().isBlank() || c.fullName().length() > 200
                || c.fullName().chars().anyMatch(Character::isISOControl)) {
            errors.add(new ApiException.FieldError("fullName", "is required (the printed name shown with signatures),"
                    + " at most 200 characters"));
        }
        if (c.email() != null && !c.email().matches("[^@\\s]+@[^@\\s]+")) {
            errors.add(new ApiException.FieldError("email", "is not an e-mail address"));
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        if (repo.findByName(c.username()).isPresent()) {
            throw ApiException.conflict("name-taken", "username", "user name '" + c.username()
                    + "' is taken (user ids are never reused)");
        }
        boolean generated = c.password() == null;
        String password = generated ? temporaryPassword() : c.password();
        if (!generated) {
            auth.checkPolicy(password, new UserRecord(null, c.username(), null, null, null, true, false, 0, null, false,
                    null, null, null), "password");
        }
        List<UserRepository.Assignment> assignments = new ArrayList<>();
        String id = UUID.randomUUID().toString();
        Instant now = Instant.now();
        for (AssignmentRequest a : c.roles() == null ? List.<AssignmentRequest>of() : c.roles()) {
            assignments.add(assignment(id, a, now));
        }
        UserRecord u = new UserRecord(id, c.username(), c.fullName().trim(), c.email(), PasswordHasher.hash(password),
                true, true, 0, null, false, now, null, now);
        repo.jdbi().useTransaction(h -> {
            repo.insert(h, u);
            assignments.forEach(a -> repo.insertAssignment(h, a));
            audit.record(h, new AuditLog.Entry(actor, "user.create", "user", id, u.username(), null, auditView(u,
                    assignments), null, Outcome.SUCCESS, null));
        });
        return new Created(view(u), generated ? password : null);
    }

    public Map<String, Object> update(String ref, Patch p, Actor actor) {
        UserRecord u = get(ref);
        if (p.fullName() != null && (p.fullName().isBlank() || p.fullName().length() > 200)) {
            throw ApiException.invalid("fullName", "must be 1-200 characters");
        }
        if (p.email() != null && !p.email().isEmpty() && !p.email().matches("[^@\\s]+@[^@\\s]+")) {
            throw ApiException.invalid("email", "is not an e-mail address");
        }
        UserRecord n = new UserRecord(u.id(), u.username(), p.fullName() == null ? u.fullName() : p.fullName().trim(),
                p.email() == null ? u.email() : p.email().isEmpty() ? null : p.email(), u.passwordHash(),
                p.enabled() == null ? u.enabled() : p.enabled(), u.mustChangePassword(), u.failedLogins(),
                u.lockedUntil(), u.emergency(), u.passwordChangedAt(), u.lastLoginAt(), u.createdAt());
        repo.jdbi().useTransaction(h -> {
            repo.update(h, n);
            if (!n.enabled()) {
                repo.revokeAll(h, u.id(), AuthService.SESSION, Instant.now());
                repo.revokeAll(h, u.id(), AuthService.API, Instant.now());
            }
            audit.record(h, new AuditLog.Entry(actor, "user.update", "user", u.id(), u.username(),
                    Map.of("fullName", u.fullName(), "email", String.valueOf(u.email()), "enabled", u.enabled()),
                    Map.of("fullName", n.fullName(), "email", String.valueOf(n.email()), "enabled", n.enabled()),
                    null, Outcome.SUCCESS, null));
        });
        return view(n);
    }

    /** A new temporary password (shown once), to be changed at the next login; ends the user's sessions. */
    public Created resetPassword(String ref, Actor actor) {
        UserRecord u = get(ref);
        String password = temporaryPassword();
        Instant now = Instant.now();
        UserRecord n = u.withPassword(PasswordHasher.hash(password), true, now);
        repo.jdbi().useTransaction(h -> {
            repo.update(h, n);
            repo.revokeAll(h, u.id(), AuthService.SESSION, now);
            audit.record(h, new AuditLog.Entry(actor, "user.password.reset", "user", u.id(), u.username(), null,
                    Map.of("mustChangePassword", true), null, Outcome.SUCCESS, null));
        });
        return new Created(view(n), password);
    }

    public Map<String, Object> unlock(String ref, Actor actor) {
        UserRecord u = get(ref);
        UserRecord n = u.withFailures(0, null);
        repo.jdbi().useTransaction(h -> {
            repo.update(h, n);
            audit.record(h, new AuditLog.Entry(actor, "user.unlock", "user", u.id(), u.username(),
                    Map.of("locked", u.lockedAt(Instant.now())), Map.of("locked", false), null, Outcome.SUCCESS, null));
        });
        return view(n);
    }

    // ---- role assignments

    public Map<String, Object> assign(String ref, AssignmentRequest a, Actor actor) {
        UserRecord u = get(ref);
        UserRepository.Assignment x = assignment(u.id(), a, Instant.now());
        boolean duplicate = repo.assignments(u.id()).stream().anyMatch(e -> e.roleId().equals(x.roleId())
                && e.scopeType().equals(x.scopeType()) && java.util.Objects.equals(e.scopeId(), x.scopeId()));
        if (duplicate) {
            throw ApiException.conflict("already-assigned", "user '" + u.username() + "' has role " + x.roleName()
                    + " on " + scopeLabel(x) + " already");
        }
        repo.jdbi().useTransaction(h -> {
            repo.insertAssignment(h, x);
            audit.record(h, new AuditLog.Entry(actor, "user.role.assign", "user", u.id(), u.username(), null,
                    Map.of("role", x.roleName(), "scope", scopeLabel(x)), null, Outcome.SUCCESS, null));
        });
        return view(u.id());
    }

    public Map<String, Object> unassign(String ref, String assignmentId, Actor actor) {
        UserRecord u = get(ref);
        UserRepository.Assignment x = repo.assignments(u.id()).stream().filter(a -> a.id().equals(assignmentId))
                .findFirst().orElseThrow(() -> ApiException.notFound("role assignment", assignmentId));
        if (x.roleName().equals("administrator") && x.scopeType().equals(Scope.GLOBAL) && globalAdmins() <= 1) {
            throw ApiException.conflict("last-administrator", "this is the last global administrator assignment;"
                    + " assign the administrator role to another enabled user first");
        }
        repo.jdbi().useTransaction(h -> {
            repo.deleteAssignment(h, x.id());
            audit.record(h, new AuditLog.Entry(actor, "user.role.unassign", "user", u.id(), u.username(),
                    Map.of("role", x.roleName(), "scope", scopeLabel(x)), null, null, Outcome.SUCCESS, null));
        });
        return view(u.id());
    }

    private long globalAdmins() {
        return repo.assignments(null).stream().filter(a -> a.roleName().equals("administrator")
                && a.scopeType().equals(Scope.GLOBAL)).filter(a -> repo.find(a.userId()).map(UserRecord::enabled)
                .orElse(false)).count();
    }

    private UserRepository.Assignment assignment(String userId, AssignmentRequest a, Instant now) {
        if (a == null || a.role() == null) {
            throw ApiException.invalid("role", "is required (" + String.join(", ", roleNames()) + ")");
        }
        RoleRecord r = repo.roles().stream().filter(x -> x.name().equals(a.role()) || x.id().equals(a.role()))
                .findFirst().orElseThrow(() -> ApiException.invalid("role", "unknown role '" + a.role() + "'; roles: "
                        + String.join(", ", roleNames())));
        Scope s = a.scope() == null || a.scope().equals(Scope.GLOBAL) ? Scope.EVERYTHING : scopeResolver.apply(a.scope());
        return new UserRepository.Assignment(UUID.randomUUID().toString(), userId, r.id(), r.name(), s.type(), s.id(), now);
    }

    private List<String> roleNames() {
        return repo.roles().stream().map(RoleRecord::name).toList();
    }

    private static String scopeLabel(UserRepository.Assignment a) {
        return a.scopeId() == null ? a.scopeType() : a.scopeType() + ":" + a.scopeId();
    }

    // ---- roles

    public List<Map<String, Object>> roles() {
        return repo.roles().stream().map(UserService::roleView).toList();
    }

    static Map<String, Object> roleView(RoleRecord r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", r.id());
        m.put("name", r.name());
        m.put("description", r.description());
        m.put("builtin", r.builtin());
        m.put("privileges", r.privileges().stream().sorted().map(Privilege::id).toList());
        return m;
    }

    public Map<String, Object> createRole(RoleCreate c, Actor actor) {
        List<ApiException.FieldError> errors = new ArrayList<>();
        if (c.name() == null || !USERNAME.matcher(c.name()).matches()) {
            errors.add(new ApiException.FieldError("name", "is required: lower-case letters, digits, '.', '_', '-'"));
        }
        Set<Privilege> privileges = EnumSet.noneOf(Privilege.class);
        for (String p : c.privileges() == null ? List.<String>of() : c.privileges()) {
            Privilege x = Privilege.parse(p);
            if (x == null) {
                errors.add(new ApiException.FieldError("privileges", "unknown privilege '" + p + "'; known: "
                        + Privilege.names()));
            } else {
                privileges.add(x);
            }
        }
        if (privileges.isEmpty() && errors.isEmpty()) {
            errors.add(new ApiException.FieldError("privileges", "at least one of " + Privilege.names()));
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        if (repo.roles().stream().anyMatch(r -> r.name().equals(c.name()))) {
            throw ApiException.conflict("name-taken", "name", "role '" + c.name() + "' exists");
        }
        RoleRecord r = new RoleRecord(UUID.randomUUID().toString(), c.name(), c.description(), false,
                Set.copyOf(privileges));
        repo.jdbi().useTransaction(h -> {
            repo.insertRole(h, r);
            audit.record(h, new AuditLog.Entry(actor, "role.create", "role", r.id(), r.name(), null, roleView(r), null,
                    Outcome.SUCCESS, null));
        });
        return roleView(r);
    }

    public void deleteRole(String ref, Actor actor) {
        RoleRecord r = role(ref);
        if (r.builtin()) {
            throw ApiException.conflict("role-builtin", "role '" + r.name() + "' is built in and cannot be deleted");
        }
        List<String> users = repo.assignments(null).stream().filter(a -> a.roleId().equals(r.id()))
                .map(a -> repo.find(a.userId()).map(UserRecord::username).orElse(a.userId())).distinct().toList();
        if (!users.isEmpty()) {
            throw ApiException.conflict("role-in-use", "role '" + r.name() + "' is assigned to " + String.join(", ", users));
        }
        repo.jdbi().useTransaction(h -> {
            repo.deleteRole(h, r.id());
            audit.record(h, new AuditLog.Entry(actor, "role.delete", "role", r.id(), r.name(), roleView(r), null, null,
                    Outcome.SUCCESS, null));
        });
    }

    RoleRecord role(String ref) {
        return repo.roles().stream().filter(r -> r.id().equals(ref) || r.name().equals(ref)).findFirst()
                .orElseThrow(() -> ApiException.notFound("role", ref));
    }

    /**
     * Emergency access (break glass), run on the manager's machine while the manager is stopped: enables and
     * unlocks {@code username} (creating the account {@code emergency} with the administrator role if
     * needed) with a new one-time password, audited as {@code user.emergency-access} for later review.
     */
    public String emergencyAccess(String username, String reason) {
        String password = temporaryPassword();
        Instant now = Instant.now();
        Actor actor = Actor.system("emergency-console");
        UserRecord existing = repo.findByName(username).orElse(null);
        repo.jdbi().useTransaction(h -> {
            if (existing == null) {
                if (!username.equals("emergency")) {
                    throw new IllegalArgumentException("no user '" + username + "' (only 'emergency' is created on demand)");
                }
                String id = UUID.randomUUID().toString();
                RoleRecord admin = role("administrator");
                repo.insert(h, new UserRecord(id, username, "Emergency access", null, PasswordHasher.hash(password), true,
                        true, 0, null, true, now, null, now));
                repo.insertAssignment(h, new UserRepository.Assignment(UUID.randomUUID().toString(), id, admin.id(),
                        admin.name(), Scope.GLOBAL, null, now));
                audit.record(h, new AuditLog.Entry(actor, "user.emergency-access", "user", id, username, null,
                        Map.of("enabled", true, "roles", List.of("administrator@global")), reason, Outcome.SUCCESS, null));
            } else {
                repo.update(h, existing.withPassword(PasswordHasher.hash(password), true, now).withEnabled(true));
                repo.revokeAll(h, existing.id(), AuthService.SESSION, now);
                audit.record(h, new AuditLog.Entry(actor, "user.emergency-access", "user", existing.id(), username,
                        Map.of("enabled", existing.enabled(), "locked", existing.lockedAt(now)),
                        Map.of("enabled", true, "locked", false, "mustChangePassword", true), reason, Outcome.SUCCESS,
                        null));
            }
        });
        return password;
    }

    private static Map<String, Object> auditView(UserRecord u, List<UserRepository.Assignment> assignments) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("username", u.username());
        m.put("fullName", u.fullName());
        m.put("email", u.email());
        m.put("roles", assignments.stream().map(a -> a.roleName() + "@" + scopeLabel(a)).toList());
        return m;
    }

    static String temporaryPassword() {
        String alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
        StringBuilder b = new StringBuilder();
        java.security.SecureRandom r = new java.security.SecureRandom();
        for (int i = 0; i < 20; i++) {
            if (i > 0 && i % 5 == 0) {
                b.append('-');
            }
            b.append(alphabet.charAt(r.nextInt(alphabet.length())));
        }
        return b.toString();
    }
}
