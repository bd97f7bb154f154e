package org.carevisor.manager.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The manager's periodic jobs under its supervisor, seen through the API: every job is listed in
 * GET /api/v1/health with its progress; a job that keeps failing with an Error (fault injection) makes the
 * health degraded and names it, is audited once, and clears when it passes again.
 */
class ManagerJobsTest {
    @TempDir
    static Path dir;
    static Manager manager;
    static Http admin;

    @BeforeAll
    static void start() throws Exception {
        System.setProperty("carevisor.admin-password", Lab.ADMIN_PASSWORD);
        manager = Manager.start(ManagerConfig.parse(new String[] {"--data-dir", dir.resolve("manager").toString(), "--port", "0",
            "--agent-port", "0"}, Map.of()));
        admin = Http.forManager(dir.resolve("manager"), manager.port()).login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
    }

    @AfterAll
    static void stop() {
        if (manager != null) {
            manager.close();
        }
    }

    static JsonNode health() {
        return admin.get("/api/v1/health").expect(200).json();
    }

    static JsonNode job(JsonNode health, String name) {
        for (JsonNode j : health.path("jobs")) {
            if (j.path("name").asText().equals(name)) {
                return j;
            }
        }
        return null;
    }

    @Test
    void everyPeriodicJobIsListedAndHaKeepsEvaluating() {
        JsonNode h = health();
        for (String name : new String[] {"reconcile", "balancer", "ha-evaluation", "migration-recovery",
            "audit-checkpoints", "login-limits"}) {
            assertThat(job(h, name)).as(name).isNotNull();
            assertThat(job(h, name).path("state").asText()).isEqualTo("ok");
        }
        long passes = job(h, "ha-evaluation").path("passes").asLong();
        Poll.until(Duration.ofSeconds(30), "two more HA evaluations",
                () -> job(health(), "ha-evaluation").path("passes").asLong() >= passes + 2);
        assertThat(h.path("alarms").isArray()).isTrue();
    }

    @Test
    void aJobThatKeepsThrowingAnErrorIsAnAlarmInHealthAndTheTrailUntilItPassesAgain() {
        AtomicBoolean failing = new AtomicBoolean(true);
        manager.jobs().schedule("fault-injection", () -> Duration.ofMillis(50), Duration.ZERO, () -> {
            if (failing.get()) {
                throw new StackOverflowError("fault injection: an Error escapes the pass");
            }
        });
        JsonNode h = Poll.until(Duration.ofSeconds(30), "the alarm in the health answer", () -> {
            JsonNode x = health();
            return x.path("alarms").toString().contains("fault-injection") ? x : null;
        });
        assertThat(h.path("status").asText()).isEqualTo("degraded");
        // anyone may see that the manager is degraded, only a logged-in viewer why
        JsonNode anonymous = Http.forManager(dir.resolve("manager"), manager.port()).get("/api/v1/health").json();
        assertThat(anonymous.path("status").asText()).isEqualTo("degraded");
        assertThat(anonymous.has("alarms") || anonymous.has("jobs") || anonymous.has("hosts")).isFalse();
        JsonNode j = job(h, "fault-injection");
        assertThat(j.path("state").asText()).isEqualTo("failing");
        assertThat(j.path("lastError").asText()).isEqualTo("java.lang.StackOverflowError");
        assertThat(j.path("failuresInARow").asInt()).isGreaterThanOrEqualTo(3);
        // the health answer is public: it names the error's class, never its text
        assertThat(h.toString()).doesNotContain("escapes the pass");
        // the other jobs go on
        long ha = job(h, "ha-evaluation").path("passes").asLong();
        Poll.until(Duration.ofSeconds(30), "HA to go on", () -> job(health(), "ha-evaluation").path("passes")
                .asLong() > ha);
        JsonNode alarm = Poll.until(Duration.ofSeconds(10), "the alarm audited", () -> {
            JsonNode a = admin.get("/api/v1/audit?action=manager.job.alarm").json();
            return a.size() > 0 ? a : null;
        });
        assertThat(alarm).hasSize(1);
        assertThat(alarm.get(0).path("targetName").asText()).isEqualTo("fault-injection");
        assertThat(alarm.get(0).path("reason").asText()).contains("StackOverflowError");
        failing.set(false);
        Poll.until(Duration.ofSeconds(30), "the alarm to clear",
                () -> health().path("alarms").toString().contains("fault-injection") ? null : true);
        assertThat(job(health(), "fault-injection").path("state").asText()).isEqualTo("ok");
        Poll.until(Duration.ofSeconds(10), "recovered audited",
                () -> admin.get("/api/v1/audit?action=manager.job.recovered").json().size() == 1);
        assertThat(admin.get("/api/v1/audit?action=manager.job.alarm").json()).hasSize(1);
    }
}
