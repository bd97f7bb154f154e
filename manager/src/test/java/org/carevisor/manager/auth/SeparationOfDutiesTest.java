package org.carevisor.manager.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Separation of duties and the end of API tokens, against a manager in this JVM: a user administrator can
 * neither grant itself or others a role with privileges it lacks, nor take over or switch off a more privileged
 * account; a password reset, a disable, a lockout and emergency access revoke the account's API tokens too
 * (audited with the counts).
 */
class SeparationOfDutiesTest {
    static final String PASSWORD = "First-Password-77";
    static final String GOOD = "Good-Password-88";

    @TempDir
    static Path dir;
    static Manager manager;
    static Http admin;
    static Http userAdmin;

    @BeforeAll
    static void start() throws Exception {
        System.setProperty("carevisor.admin-password", Lab.ADMIN_PASSWORD);
        manager = Manager.start(ManagerConfig.parse(new String[] {"--data-dir", dir.resolve("manager").toString(), "--port", "0",
            "--agent-port", "0"}, Map.of()));
        admin = http().login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
        admin.post("/api/v1/roles", "{\"name\":\"user-admins\",\"privileges\":[\"User.Admin\",\"Sys.View\"]}")
                .expect(201);
        admin.post("/api/v1/clusters", "{\"name\":\"icu\"}").expect(201);
        createUser("uma", "{\"role\":\"user-admins\"}");
        userAdmin = http().login("uma", GOOD);
    }

    @AfterAll
    static void stop() {
        if (manager != null) {
            manager.close();
        }
    }

    static Http http() {
        return Http.forManager(dir.resolve("manager"), manager.port());
    }

    static void createUser(String name, String... roles) {
        admin.post("/api/v1/users", "{\"username\":\"" + name + "\",\"fullName\":\"" + name.toUpperCase()
                + " Person\",\"password\":\"" + PASSWORD + "\",\"roles\":[" + String.join(",", roles) + "]}")
                .expect(201);
        http().login(name, PASSWORD).post("/api/v1/auth/password", "{\"currentPassword\":\"" + PASSWORD
                + "\",\"newPassword\":\"" + GOOD + "\"}").expect(204);
    }

    static void refused(Http.Response r, String... detail) {
        assertThat(r.status()).as(r.text()).isEqualTo(403);
        assertThat(r.json().path("code").asText()).isEqualTo("exceeds-own-privileges");
        assertThat(r.json().path("detail").asText()).contains(detail);
    }

    static JsonNode lastAudit(String action) {
        return admin.get("/api/v1/audit?action=" + action + "&limit=1").expect(200).json().get(0);
    }

    static String apiToken(Http user, String name) {
        return user.post("/api/v1/auth/tokens", "{\"name\":\"" + name + "\",\"expiresInDays\":30}").expect(201).json()
                .path("token").asText();
    }

    @Test
    void aUserAdministratorCannotGrantItselfOrOthersMoreThanItHolds() {
        refused(userAdmin.post("/api/v1/users/uma/roles", "{\"role\":\"administrator\"}"), "administrator",
                "Host.Admin");
        JsonNode denied = lastAudit("access.denied");
        assertThat(denied.path("actor").asText()).isEqualTo("uma");
        assertThat(denied.path("outcome").asText()).isEqualTo("refused");
        assertThat(admin.get("/api/v1/users/uma").json().path("roles").toString()).doesNotContain("administrator");
        // not through a new account either, and nothing is created
        refused(userAdmin.post("/api/v1/users", "{\"username\":\"mallory\",\"fullName\":\"M\",\"roles\":"
                + "[{\"role\":\"administrator\"}]}"), "administrator");
        assertThat(admin.get("/api/v1/users/mallory").status()).isEqualTo(404);
        // nor an operator anywhere: it lacks the VM privileges
        createUser("oscar");
        refused(userAdmin.post("/api/v1/users/oscar/roles", "{\"role\":\"operator\",\"scope\":\"cluster:icu\"}"),
                "operator", "VM.PowerState");
        // what it holds itself it may hand on
        userAdmin.post("/api/v1/users/oscar/roles", "{\"role\":\"read-only\"}").expect(201);
        // the administrator holds everything
        admin.post("/api/v1/users/oscar/roles", "{\"role\":\"operator\",\"scope\":\"cluster:icu\"}").expect(201);
    }

    @Test
    void aScopedAdministratorGrantsOnlyOnItsScope() {
        createUser("clara", "{\"role\":\"administrator\",\"scope\":\"cluster:icu\"}", "{\"role\":\"user-admins\"}");
        Http clara = http().login("clara", GOOD);
        createUser("peter");
        clara.post("/api/v1/users/peter/roles", "{\"role\":\"operator\",\"scope\":\"cluster:icu\"}").expect(201);
        refused(clara.post("/api/v1/users/peter/roles", "{\"role\":\"operator\"}"), "operator", "global");
        refused(clara.post("/api/v1/users/clara/roles", "{\"role\":\"administrator\"}"), "administrator");
    }

    @Test
    void aUserAdministratorCannotTakeOverOrSwitchOffAMorePrivilegedAccount() {
        refused(userAdmin.post("/api/v1/users/admin/password-reset", null), "reset the password of user 'admin'");
        refused(userAdmin.patch("/api/v1/users/admin", "{\"enabled\":false}"), "admin");
        refused(userAdmin.post("/api/v1/users/admin/unlock", null), "admin");
        String adminAssignment = admin.get("/api/v1/users/admin").json().path("roles").get(0).path("id").asText();
        refused(userAdmin.delete("/api/v1/users/admin/roles/" + adminAssignment), "take away");
        assertThat(admin.get("/api/v1/users/admin").json().path("enabled").asBoolean()).isTrue();
        http().login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
        // an account with no more than its own privileges it administers
        createUser("rolf", "{\"role\":\"read-only\"}");
        JsonNode reset = userAdmin.post("/api/v1/users/rolf/password-reset", null).expect(200).json();
        assertThat(reset.path("temporaryPassword").asText()).isNotEmpty();
        userAdmin.patch("/api/v1/users/rolf", "{\"enabled\":false}").expect(200);
    }

    @Test
    void aPasswordResetRevokesApiTokensToo() {
        createUser("tess", "{\"role\":\"read-only\"}");
        Http tess = http().login("tess", GOOD);
        Http script = http().withToken(apiToken(tess, "nightly"));
        script.get("/api/v1/vms").expect(200);
        admin.post("/api/v1/users/tess/password-reset", null).expect(200);
        assertThat(script.get("/api/v1/vms").status()).isEqualTo(401);
        assertThat(tess.get("/api/v1/vms").status()).isEqualTo(401);
        JsonNode r = lastAudit("user.password.reset");
        assertThat(r.path("targetName").asText()).isEqualTo("tess");
        assertThat(r.path("newValue").path("revoked").path("apiTokens").asInt()).isEqualTo(1);
        assertThat(r.path("newValue").path("revoked").path("sessions").asInt()).isGreaterThanOrEqualTo(1);
    }

    @Test
    void aDisableRevokesApiTokensAndTheyStayRevokedWhenEnabledAgain() {
        createUser("ulf", "{\"role\":\"read-only\"}");
        Http script = http().withToken(apiToken(http().login("ulf", GOOD), "backup"));
        admin.patch("/api/v1/users/ulf", "{\"enabled\":false}").expect(200);
        assertThat(lastAudit("user.update").path("newValue").path("revoked").path("apiTokens").asInt()).isEqualTo(1);
        admin.patch("/api/v1/users/ulf", "{\"enabled\":true}").expect(200);
        assertThat(script.get("/api/v1/vms").status()).isEqualTo(401);
    }

    @Test
    void aLockoutRevokesApiTokensAndTheyStayRevokedAfterTheUnlock() {
        createUser("vera", "{\"role\":\"read-only\"}");
        Http script = http().withToken(apiToken(http().login("vera", GOOD), "monitoring"));
        for (int i = 0; i < 5; i++) {
            http().post("/api/v1/auth/login", "{\"username\":\"vera\",\"password\":\"wrong\"}");
        }
        JsonNode locked = lastAudit("user.locked");
        assertThat(locked.path("targetName").asText()).isEqualTo("vera");
        assertThat(locked.path("newValue").path("revoked").path("apiTokens").asInt()).isEqualTo(1);
        admin.post("/api/v1/users/vera/unlock", null).expect(200);
        assertThat(script.get("/api/v1/vms").status()).isEqualTo(401);
        http().login("vera", GOOD).get("/api/v1/vms").expect(200);
    }

    @Test
    void emergencyAccessRevokesApiTokensToo() {
        createUser("walt", "{\"role\":\"read-only\"}");
        Http script = http().withToken(apiToken(http().login("walt", GOOD), "report"));
        // the same service the break-glass command runs (here on the running manager's database)
        var jdbi = manager.database().jdbi();
        AuditLog audit = new AuditLog(jdbi);
        UserRepository repo = new UserRepository(jdbi);
        UserService users = new UserService(repo, new AuthService(repo, audit), audit, s -> {
            throw new IllegalArgumentException(s);
        }, s -> List.of(Scope.EVERYTHING, s));
        String password = users.emergencyAccess("walt", "INC-42: test of break-glass");
        assertThat(script.get("/api/v1/vms").status()).isEqualTo(401);
        JsonNode r = lastAudit("user.emergency-access");
        assertThat(r.path("newValue").path("revoked").path("apiTokens").asInt()).isEqualTo(1);
        assertThat(http().post("/api/v1/auth/login", "{\"username\":\"walt\",\"password\":\"" + password + "\"}")
                .expect(201).json().path("mustChangePassword").asBoolean()).isTrue();
    }
}
