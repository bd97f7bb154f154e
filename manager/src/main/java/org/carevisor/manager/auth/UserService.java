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
import org.carevisor.manager.audit.Values;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;

/**
 * User administration: accounts (created, changed, disabled - never deleted, so the audit trail always
 * names a real account), roles, role assignments on scopes, password resets, unlocking; the built-in roles
 * and the first administrator. Every change is audited with old and new value, written as a targeted update of
 * the columns it decides, and subject to {@link SeparationOfDuties}. A password reset, a disable and emergency
 * access end the account's sessions and API tokens. Thread-safe.
 */
public final class UserService {
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
    private final SeparationOfDuties duties;

    /**
     * {@code scopeResolver}: "cluster:icu" -> Scope(cluster, id); throws 404/400 for an unknown object.
     * {@code scopePath}: every scope that contains a scope (separation of duties).
     */
    public UserService(UserRepository repo, AuthService auth, AuditLog audit, Function<String, Scope> scopeResolver,
                       Function<Scope, List<Scope>> scopePath) {
        this.repo = repo;
        this.auth = auth;
        this.audit = audit;
        this.scopeResolver = scopeResolver;
        this.duties = new SeparationOfDuties(repo, audit, scopePath);
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


    /**
     * Creates missing built-in roles and, when there is no user yet, the first administrator with a one-time
     * initial password ({@link AccountBootstrap#bootstrap}).
     */
    public void bootstrap(String initialPassword, String printedTo, java.time.Duration validFor) {
        new AccountBootstrap(repo, audit, this).bootstrap(initialPassword, printedTo, validFor);
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
        m.put("passwordExpiresAt", u.passwordExpiresAt());
        m.put("lastLoginAt", u.lastLoginAt());
        m.put("createdAt", u.createdAt());
        m.put("roles", repo.assignments(u.id()).stream().map(this::assignmentView).toList());
        return m;
    }

    /** An assignment as shown: its scope by id ({@code cluster:<id>}) and, for people, by name. */
    Map<String, Object> assignmentView(UserRepository.Assignment a) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", a.id());
        m.put("role", a.roleName());
        m.put("scope", a.scopeId() == null ? a.scopeType() : a.scopeType() + ":" + a.scopeId());
        String name = repo.scopeName(a.scopeType(), a.scopeId());
        m.put("scopeName", a.scopeId() == null ? a.scopeType() : a.scopeType() + ":" + (name == null
                ? a.scopeId() + " (removed)" : name));
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
                    null, null, null, null), "password");
        }
        List<UserRepository.Assignment> assignments = new ArrayList<>();
        String id = UUID.randomUUID().toString();
        Instant now = Instant.now();
        for (AssignmentRequest a : c.roles() == null ? List.<AssignmentRequest>of() : c.roles()) {
            UserRepository.Assignment x = assignment(id, a, now);
            duties.checkGrant(actor, role(x.roleId()), new Scope(x.scopeType(), x.scopeId()), "grant", null);
            assignments.add(x);
        }
        UserRecord u = new UserRecord(id, c.username(), c.fullName().trim(), c.email(), PasswordHasher.hash(password),
                true, true, 0, null, false, now, null, now, null);
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
        duties.checkActOn(actor, u, "change");
        String fullName = p.fullName() == null ? null : p.fullName().trim();
        UserRecord n = repo.jdbi().inTransaction(h -> {
            UserRecord old = repo.findForUpdate(h, u.id()).orElseThrow();
            repo.updateProfile(h, u.id(), fullName, p.email(), p.enabled());
            UserRecord now = repo.find(h, u.id()).orElseThrow();
            Map<String, Object> after = Values.of("fullName", now.fullName(), "email", now.email(),
                    "enabled", now.enabled());
            if (old.enabled() && !now.enabled()) {
                after.put("revoked", revokeAll(h, u.id()));
            }
            audit.record(h, new AuditLog.Entry(actor, "user.update", "user", u.id(), u.username(),
                    Values.of("fullName", old.fullName(), "email", old.email(), "enabled", old.enabled()),
                    after, null, Outcome.SUCCESS, null));
            return now;
        });
        return view(n);
    }

    /** Ends every session and API token of the user; the counts, for the audit record of the change. */
    Map<String, Object> revokeAll(org.jdbi.v3.core.Handle h, String userId) {
        Instant now = Instant.now();
        int sessions = repo.revokeAll(h, userId, AuthService.SESSION, now);
        int tokens = repo.revokeAll(h, userId, AuthService.API, now);
        return Map.of("sessions", sessions, "apiTokens", tokens);
    }

    /**
     * A new temporary password (shown once), to be changed at the next login; unlocks the account and ends its
     * sessions and API tokens.
     */
    public Created resetPassword(String ref, Actor actor) {
        UserRecord u = get(ref);
        duties.checkActOn(actor, u, "reset the password of");
        String password = temporaryPassword();
        String hash = PasswordHasher.hash(password);
        Instant now = Instant.now();
        repo.jdbi().useTransaction(h -> {
            repo.setPassword(h, u.id(), hash, true, now, null, null, true);
            Map<String, Object> after = new LinkedHashMap<>();
            after.put("mustChangePassword", true);
            after.put("revoked", revokeAll(h, u.id()));
            audit.record(h, new AuditLog.Entry(actor, "user.password.reset", "user", u.id(), u.username(), null,
                    after, null, Outcome.SUCCESS, null));
        });
        return new Created(view(u.id()), password);
    }

    public Map<String, Object> unlock(String ref, Actor actor) {
        UserRecord u = get(ref);
        duties.checkActOn(actor, u, "unlock");
        repo.jdbi().useTransaction(h -> {
            UserRecord old = repo.findForUpdate(h, u.id()).orElseThrow();
            repo.unlock(h, u.id());
            audit.record(h, new AuditLog.Entry(actor, "user.unlock", "user", u.id(), u.username(),
                    Map.of("locked", old.lockedAt(Instant.now()), "failedLogins", old.failedLogins()),
                    Map.of("locked", false), null, Outcome.SUCCESS, null));
        });
        return view(u.id());
    }

    // ---- role assignments

    public Map<String, Object> assign(String ref, AssignmentRequest a, Actor actor) {
        UserRecord u = get(ref);
        UserRepository.Assignment x = assignment(u.id(), a, Instant.now());
        duties.checkGrant(actor, role(x.roleId()), new Scope(x.scopeType(), x.scopeId()), "grant", u);
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
        duties.checkGrant(actor, role(x.roleId()), new Scope(x.scopeType(), x.scopeId()), "take away", u);
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

    /** Emergency access (break glass): {@link AccountBootstrap#emergencyAccess}. */
    public String emergencyAccess(String username, String reason) {
        return new AccountBootstrap(repo, audit, this).emergencyAccess(username, reason);
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
