package org.carevisor.manager.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every built-in role against every endpoint of the API, through HTTP against a running manager: a role
 * without the endpoint's privilege gets 403 {@code forbidden} (and the refusal is audited), a role with it
 * gets past the check (whatever the endpoint then answers), a caller without credentials gets 401. Then
 * scoped assignments: a privilege on one cluster does not reach another.
 */
class PermissionMatrixTest {
    @TempDir
    static Path dir;
    static Manager manager;
    static Http admin;
    static final Map<String, Http> ROLES = new LinkedHashMap<>();
    static final String PASSWORD = "Matrix-Password-2026";

    @BeforeAll
    static void start() throws Exception {
        System.setProperty("carevisor.admin-password", Lab.ADMIN_PASSWORD);
        manager = Manager.start(ManagerConfig.parse(new String[] {"--data-dir", dir.resolve("manager").toString(), "--port", "0",
            "--agent-port", "0"}, Map.of()));
        admin = http().login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
        for (String role : List.of("administrator", "operator", "read-only", "auditor")) {
            ROLES.put(role, user("u-" + role, role, "global"));
        }
        ROLES.put("none", user("u-none", null, null));
    }

    static Http http() {
        return Http.forManager(dir.resolve("manager"), manager.port());
    }

    /** A user with one role (or none), logged in, the temporary password changed. */
    static Http user(String name, String role, String scope) {
        String roles = role == null ? "[]" : "[{\"role\":\"" + role + "\",\"scope\":\"" + scope + "\"}]";
        admin.post("/api/v1/users", "{\"username\":\"" + name + "\",\"fullName\":\"Test " + name
                + "\",\"password\":\"Temporary-Password-1\",\"roles\":" + roles + "}").expect(201);
        Http first = http().login(name, "Temporary-Password-1");
        first.post("/api/v1/auth/password", "{\"currentPassword\":\"Temporary-Password-1\",\"newPassword\":\""
                + PASSWORD + "\"}").expect(204);
        return http().login(name, PASSWORD);
    }

    @AfterAll
    static void stop() {
        if (manager != null) {
            manager.close();
        }
    }

    @Test
    void everyRoleAgainstEveryEndpoint() {
        Map<String, java.util.Set<Privilege>> roles = UserService.BUILTIN;
        List<String> wrong = new ArrayList<>();
        int checked = 0;
        for (Map.Entry<String, AccessPolicy.Rule> e : AccessPolicy.all().entrySet()) {
            String method = e.getKey().substring(0, e.getKey().indexOf(' '));
            String path = e.getKey().substring(e.getKey().indexOf(' ') + 1).replaceAll("\\{[a-z]+}", "x-unknown");
            if (path.endsWith("/auth/logout")) {
                continue; // ends the session; checked below
            }
            AccessPolicy.Rule rule = e.getValue();
            // without credentials
            Http.Response anon = http().send(method, path, method.equals("GET") || method.equals("DELETE") ? null : "{}");
            if (rule.target() == AccessPolicy.Target.PUBLIC) {
                if (anon.status() == 401) {
                    wrong.add("anonymous " + e.getKey() + " should be public, got 401");
                }
            } else if (anon.status() != 401) {
                wrong.add("anonymous " + e.getKey() + " got " + anon.status() + ", expected 401");
            }
            for (Map.Entry<String, Http> role : ROLES.entrySet()) {
                Http.Response r = role.getValue().send(method, path, method.equals("GET") || method.equals("DELETE")
                        ? null : "{}");
                boolean denied = r.status() == 403 && r.json() != null && "forbidden".equals(r.json().path("code").asText());
                boolean should = rule.target() == AccessPolicy.Target.PUBLIC || rule.target() == AccessPolicy.Target.SELF
                        || roles.getOrDefault(role.getKey(), java.util.Set.of()).contains(rule.privilege());
                if (should == denied || r.status() == 401) {
                    wrong.add(role.getKey() + " " + e.getKey() + ": expected " + (should ? "allowed" : "forbidden")
                            + ", got " + r.status() + " " + r.text());
                }
                checked++;
            }
        }
        assertThat(wrong).isEmpty();
        assertThat(checked).isGreaterThan(4 * 90);
        // every refusal was audited as a security event
        JsonNode denied = admin.get("/api/v1/audit?action=access.denied&limit=10000").expect(200).json();
        assertThat(denied.size()).isGreaterThan(100);
        assertThat(denied.get(0).path("reason").asText()).contains("lacks the privilege");
    }

    @Test
    void aPrivilegeOnOneClusterDoesNotReachAnother() {
        admin.post("/api/v1/clusters", "{\"name\":\"icu\"}").expect(201);
        admin.post("/api/v1/roles", "{\"name\":\"cluster-admin\",\"privileges\":[\"Host.Admin\",\"Sys.View\"]}")
                .expect(201);
        Http icuAdmin = user("icu-admin", "cluster-admin", "cluster:icu");
        icuAdmin.patch("/api/v1/clusters/icu", "{\"description\":\"intensive care\"}").expect(200);
        Http.Response other = icuAdmin.patch("/api/v1/clusters/default", "{\"description\":\"x\"}").expect(403);
        assertThat(other.json().path("detail").asText()).contains("Host.Admin", "cluster 'default'", "cluster-admin");
        JsonNode visible = icuAdmin.get("/api/v1/clusters").expect(200).json();
        assertThat(visible).extracting(c -> c.path("name").asText()).containsExactly("icu");
        // a global privilege is needed for global objects
        icuAdmin.post("/api/v1/clusters", "{\"name\":\"dmz\"}").expect(403);
    }

    @Test
    void objectsNamedInTheBodyAreCheckedNotTheDefaultCluster() {
        admin.post("/api/v1/roles", "{\"name\":\"vm-config\",\"privileges\":[\"VM.Configure\",\"Sys.View\"]}")
                .expect(201);
        admin.post("/api/v1/roles", "{\"name\":\"templates-only\",\"privileges\":[\"Template.Manage\","
                + "\"Sys.View\"]}").expect(201);
        Http dora = user("dora", "vm-config", "cluster:default");
        Http tina = user("tina", "templates-only", "global");
        long before = admin.get("/api/v1/audit/checkpoints").json().path("head").path("seq").asLong();
        // a host that does not exist is checked against everything: 403 for a cluster-scoped caller, not a
        // check against the default cluster followed by the endpoint's "no such host"
        Http.Response r = dora.post("/api/v1/vms", "{\"name\":\"x\",\"cpus\":1,\"memoryMiB\":64,\"image\":\"i\","
                + "\"host\":\"elsewhere\"}");
        assertThat(r.status()).isEqualTo(403);
        assertThat(r.json().path("detail").asText()).contains("VM.Configure", "host 'elsewhere'");
        // a type that is not a string is refused before any check, so guard and endpoint cannot read it apart
        r = dora.post("/api/v1/vms", "{\"name\":\"x\",\"cluster\":42}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().path("errors").findValuesAsText("field")).containsExactly("cluster");
        // making a template consumes the VM: VM.Configure on it, even for a global template manager
        r = tina.post("/api/v1/templates", "{\"vm\":\"ghost\"}");
        assertThat(r.status()).isEqualTo(403);
        assertThat(r.json().path("detail").asText()).contains("VM.Configure", "VM 'ghost'");
        JsonNode denied = admin.get("/api/v1/audit?action=access.denied&limit=10").json();
        List<String> mine = new ArrayList<>();
        denied.forEach(d -> {
            if (d.path("seq").asLong() > before) {
                mine.add(d.path("actor").asText() + " " + d.path("targetName").asText());
            }
        });
        assertThat(mine).containsExactlyInAnyOrder("dora host 'elsewhere'", "tina VM 'ghost'");
        assertThat(admin.get("/api/v1/vms").json()).isEmpty();
    }

    @Test
    void logoutEndsTheSession() {
        Http u = user("u-logout", "read-only", "global");
        u.get("/api/v1/vms").expect(200);
        u.post("/api/v1/auth/logout", null).expect(204);
        assertThat(u.get("/api/v1/vms").expect(401).json().path("code").asText()).isEqualTo("not-authenticated");
    }
}
