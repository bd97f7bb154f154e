package org.carevisor.manager.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.testkit.Http;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The served OpenAPI document matches the registered routes, and agents of another protocol are refused. */
class ApiContractTest {
    @TempDir
    static Path dir;
    static Manager manager;
    static Http http;

    @BeforeAll
    static void start() throws Exception {
        System.setProperty("carevisor.admin-password", org.carevisor.testkit.Lab.ADMIN_PASSWORD);
        manager = Manager.start(ManagerConfig.parse(new String[] {"--data-dir", dir.resolve("manager").toString(), "--port", "0",
            "--agent-port", "0"}, Map.of()));
        http = Http.forManager(dir.resolve("manager"), manager.port()).login(org.carevisor.testkit.Lab.ADMIN,
                org.carevisor.testkit.Lab.ADMIN_PASSWORD);
    }

    @AfterAll
    static void stop() {
        if (manager != null) {
            manager.close();
        }
    }

    @Test
    void everyRouteIsDocumentedAndEveryDocumentedRouteExists() {
        Http.Response r = http.get("/api/v1/openapi.json");
        assertThat(r.status()).isEqualTo(200);
        JsonNode doc = r.json();
        assertThat(doc.path("openapi").asText()).startsWith("3.");
        Set<String> documented = new HashSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = doc.path("paths").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> p = it.next();
            for (Iterator<String> m = p.getValue().fieldNames(); m.hasNext(); ) {
                documented.add(m.next().toUpperCase(Locale.ROOT) + " " + p.getKey());
            }
        }
        List<String> registered = manager.api().routes();
        assertThat(documented).containsExactlyInAnyOrderElementsOf(registered);
    }

    @Test
    void healthWithoutHostsIsDegraded() {
        JsonNode h = http.get("/api/v1/health").json();
        assertThat(h.path("status").asText()).isEqualTo("degraded");
        assertThat(h.path("database").path("status").asText()).isEqualTo("ok");
    }

    @Test
    void createWithoutAnyHostSaysWhatToDo() {
        Http.Response r = http.post("/api/v1/vms", "{\"name\":\"a\",\"cpus\":1,\"memoryMiB\":64}");
        assertThat(r.status()).isEqualTo(503);
        assertThat(r.json().path("detail").asText()).contains("no host is connected", "./carevisor up");
    }
}
