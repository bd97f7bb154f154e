package org.carevisor.itest.attack;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.Poll;
import org.carevisor.testkit.QemuProcesses;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Password attacks on a real lab (manager and agent processes, the manager with its production heap of 256 MiB,
 * a real guest under HA): storms of 50 parallel logins - right and wrong passwords, unknown users - leave the
 * manager answering other requests and HA evaluating and deciding (it restarts the guest whose QEMU is killed
 * during the storm); parallel wrong passwords against one account lock it at exactly the threshold, each
 * checked attempt audited; an administrator's disable made during a storm of logins stays. Answers are only
 * ever the documented refusals (401, 403, 429, 503 with a stable code), never an error. No timing is asserted.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LoginStormAttackIT {
    static final String PASSWORD = "First-Password-77";
    static final String GOOD = "Good-Password-88";

    Path dir;
    Lab lab;

    @BeforeAll
    void startLab(@TempDir Path tempDir) throws Exception {
        dir = tempDir;
        lab = Lab.start(dir.resolve("lab"), 26400, Lab.applianceImage());
    }

    @AfterAll
    void stopLab() {
        if (lab != null) {
            lab.close();
        }
        assertThat(QemuProcesses.find(dir.toString())).as("QEMU processes left behind").isEmpty();
    }

    /**
     * An attacker with many addresses: the per-address limit (which would shield the manager from one address,
     * all of this test's requests come from 127.0.0.1) is raised, so the storms reach the password checks.
     */
    @BeforeEach
    void distributedAttacker() {
        lab.api().patch("/api/v1/settings/security", "{\"failedLoginsPerAddressPerMinute\":10000,"
                + "\"failedLoginsPerUserPerMinute\":10,\"lockoutThreshold\":5}").expect(200);
    }

    private void createUser(String name) {
        lab.api().post("/api/v1/users", "{\"username\":\"" + name + "\",\"fullName\":\"" + name.toUpperCase()
                + " Person\",\"password\":\"" + PASSWORD + "\",\"roles\":[{\"role\":\"operator\"}]}").expect(201);
        lab.anonymous().login(name, PASSWORD).post("/api/v1/auth/password", "{\"currentPassword\":\"" + PASSWORD
                + "\",\"newPassword\":\"" + GOOD + "\"}").expect(204);
    }

    private Http.Response login(String user, String password) {
        return lab.anonymous().post("/api/v1/auth/login", "{\"username\":\"" + user + "\",\"password\":\""
                + password + "\"}");
    }

    /** {@code n} calls released at once; their answers. */
    private static List<Http.Response> storm(int n, IntFunction<Http.Response> call) throws InterruptedException {
        List<Http.Response> out = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int k = i;
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    go.await();
                    out.add(call.apply(k));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
        }
        go.countDown();
        for (Thread t : threads) {
            t.join();
        }
        return out;
    }

    private JsonNode health() {
        return lab.api().get("/api/v1/health").expect(200).json();
    }

    private static long haPasses(JsonNode health) {
        for (JsonNode j : health.path("jobs")) {
            if (j.path("name").asText().equals("ha-evaluation")) {
                return j.path("passes").asLong();
            }
        }
        throw new AssertionError("no ha-evaluation job in " + health);
    }

    private List<JsonNode> audit(String action, String target) {
        List<JsonNode> out = new ArrayList<>();
        lab.api().get("/api/v1/audit?action=" + action + "&limit=10000&order=asc").expect(200).json().forEach(r -> {
            if (target == null || target.equals(r.path("targetName").asText())) {
                out.add(r);
            }
        });
        return out;
    }

    private String history(String vm) {
        return lab.api().get("/api/v1/vms/" + vm + "/history?limit=200").expect(200).text();
    }

    private static void refusalOrSuccess(Http.Response r) {
        assertThat(r.status()).as(r.text()).isIn(201, 401, 403, 429, 503);
        if (r.status() != 201) {
            assertThat(r.json().path("code").asText()).as(r.text()).isIn("login-failed", "account-locked",
                    "account-disabled", "too-many-attempts", "auth-busy");
        }
        if (r.status() == 429 || r.status() == 503) {
            assertThat(r.header("Retry-After")).as("Retry-After of " + r.text()).isNotNull();
        }
    }

    @Test
    void stormsOfParallelLoginsLeaveTheManagerAnsweringAndHaDeciding() throws Exception {
        createUser("nurse");
        createUser("visitor");
        // many right passwords of one user at once: its per-user limit (counting attempts in flight) must not bite
        lab.api().patch("/api/v1/settings/security", "{\"failedLoginsPerUserPerMinute\":1000}").expect(200);
        lab.createVm("{\"name\":\"ehr\",\"cpus\":1,\"memoryMiB\":128,\"image\":\"carevisor-appliance\"}");
        lab.api().patch("/api/v1/vms/ehr/ha", "{\"enabled\":true}").expect(200);
        lab.act("ehr", "start");
        lab.awaitState("ehr", "running", Duration.ofSeconds(90));
        String vmId = lab.vm("ehr").path("id").asText();
        long qemu = lab.qemuPid(vmId);

        // another client keeps working with its session the whole time, and watches HA's evaluations
        AtomicBoolean storming = new AtomicBoolean(true);
        List<Integer> otherAnswers = Collections.synchronizedList(new ArrayList<>());
        TreeSet<Long> haPassesSeen = new TreeSet<>();
        Thread other = Thread.ofVirtual().start(() -> {
            while (storming.get()) {
                otherAnswers.add(lab.api().get("/api/v1/vms").status());
                otherAnswers.add(lab.api().get("/api/v1/ha").status());
                Http.Response h = lab.api().get("/api/v1/health");
                otherAnswers.add(h.status());
                if (h.status() == 200) {
                    synchronized (haPassesSeen) {
                        haPassesSeen.add(haPasses(h.json()));
                    }
                }
                Poll.sleep(200);
            }
        });
        List<Http.Response> all = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger rounds = new AtomicInteger();
        try {
            // storms of 50 logins, mixed: a right password, wrong ones for another account, unknown user names
            Poll.until(Duration.ofMinutes(5), Duration.ofMillis(1), "HA to evaluate during the storms and restart"
                    + " the guest killed during them", () -> {
                        try {
                            all.addAll(storm(50, i -> switch (i % 3) {
                                case 0 -> login("nurse", GOOD);
                                case 1 -> login("visitor", "wrong-" + i); // locked after 5, then refused
                                default -> login("nobody-" + i, "guess-" + i);
                            }));
                            if (rounds.incrementAndGet() == 1) {
                                // fault during the storms: the HA guest's QEMU dies
                                new ProcessBuilder("kill", "-KILL", Long.toString(qemu)).inheritIO().start().waitFor();
                            }
                        } catch (InterruptedException | java.io.IOException e) {
                            throw new IllegalStateException(e);
                        }
                        int seen;
                        synchronized (haPassesSeen) {
                            seen = haPassesSeen.size();
                        }
                        return rounds.get() >= 3 && seen >= 3 && history("ehr").contains("vm.ha-restart") ? true
                                : null;
                    });
        } finally {
            storming.set(false);
            other.join();
        }
        System.out.println("login storms: " + rounds.get() + " rounds, answers by status "
                + all.stream().collect(java.util.stream.Collectors.groupingBy(Http.Response::status,
                java.util.TreeMap::new, java.util.stream.Collectors.counting())) + ", HA pass counts seen "
                + haPassesSeen + ", other requests answered " + otherAnswers.size());
        // every storm answer was a login or a documented refusal, never an error
        assertThat(all).hasSize(50 * rounds.get()).allSatisfy(LoginStormAttackIT::refusalOrSuccess);
        assertThat(all.stream().filter(r -> r.status() == 201)).as("right passwords got in").isNotEmpty();
        assertThat(all.stream().filter(r -> r.status() == 401)).as("wrong passwords were checked").isNotEmpty();
        // the other client was answered every time
        assertThat(otherAnswers).isNotEmpty().containsOnly(200);
        // HA evaluated during the storms (several distinct pass counts seen) and decided: the guest runs again
        assertThat(haPassesSeen.size()).isGreaterThanOrEqualTo(3);
        lab.awaitState("ehr", "running", Duration.ofSeconds(120));
        assertThat(lab.qemuPid(vmId)).isNotEqualTo(qemu);
        JsonNode h = health();
        assertThat(h.path("alarms")).isEmpty();
        assertThat(lab.manager().alive()).isTrue();
        assertThat(Files.readString(lab.dir().resolve("log/manager.log"))).doesNotContain("OutOfMemoryError");
        lab.api().patch("/api/v1/vms/ehr/ha", "{\"enabled\":false}").expect(200);
    }

    @Test
    void parallelWrongPasswordsAgainstOneAccountLockItAtExactlyTheThresholdEachAudited() throws Exception {
        createUser("porter");
        List<Http.Response> rs = storm(40, i -> login("porter", "wrong-" + i));
        System.out.println("wrong passwords against one account: answers by status " + rs.stream().collect(
                java.util.stream.Collectors.groupingBy(Http.Response::status, java.util.TreeMap::new,
                        java.util.stream.Collectors.counting())));
        assertThat(rs).allSatisfy(LoginStormAttackIT::refusalOrSuccess);
        assertThat(rs).noneMatch(r -> r.status() == 201);
        List<JsonNode> checked = audit("auth.login", "porter").stream()
                .filter(r -> !r.path("outcome").asText().equals("success")).toList();
        long answeredAfterCheck = rs.stream().filter(r -> r.status() == 401 || r.status() == 403).count();
        assertThat(checked).as("one audit record per checked attempt").hasSize((int) answeredAfterCheck);
        TreeSet<Integer> counted = new TreeSet<>();
        for (JsonNode r : checked) {
            if (r.path("newValue").has("failedAttempts")) {
                assertThat(counted.add(r.path("newValue").path("failedAttempts").asInt())).as("counted once").isTrue();
            }
        }
        assertThat(counted).as("every failure counted, up to exactly the threshold").containsExactly(1, 2, 3, 4, 5);
        assertThat(audit("user.locked", "porter")).hasSize(1);
        // attempts beyond the per-user limit were refused without a check, and recorded once for the episode
        long limited = rs.stream().filter(r -> r.status() == 429).count();
        assertThat(audit("auth.rate-limited", "porter")).hasSize(limited > 0 ? 1 : 0);
        assertThat(lab.api().get("/api/v1/users/porter").json().path("locked").asBoolean()).isTrue();
        assertThat(login("porter", GOOD).status()).isIn(403, 429);
    }

    @Test
    void anAdministratorsDisableDuringAStormOfLoginsStays() throws Exception {
        createUser("clerk");
        lab.api().patch("/api/v1/settings/security", "{\"failedLoginsPerUserPerMinute\":1000}").expect(200);
        AtomicInteger in = new AtomicInteger();
        List<String> sessions = Collections.synchronizedList(new ArrayList<>());
        Thread admin = Thread.ofVirtual().start(() -> {
            Poll.until(Duration.ofSeconds(60), "a first login of the storm", () -> in.get() > 0);
            lab.api().patch("/api/v1/users/clerk", "{\"enabled\":false}").expect(200);
        });
        List<Http.Response> rs = storm(50, i -> {
            Http.Response r = login("clerk", GOOD);
            if (r.status() == 201) {
                in.incrementAndGet();
                sessions.add(r.json().path("token").asText());
            }
            return r;
        });
        admin.join();
        assertThat(rs).allSatisfy(LoginStormAttackIT::refusalOrSuccess);
        assertThat(lab.api().get("/api/v1/users/clerk").json().path("enabled").asBoolean()).as("the disable stays")
                .isFalse();
        for (String s : sessions) {
            assertThat(lab.anonymous().withToken(s).get("/api/v1/auth/whoami").status()).isEqualTo(401);
        }
        assertThat(login("clerk", GOOD).json().path("code").asText()).isEqualTo("account-disabled");
        JsonNode disabled = audit("user.update", "clerk").getLast();
        assertThat(disabled.path("newValue").path("enabled").asBoolean()).isFalse();
    }
}
