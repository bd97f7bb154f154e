package org.carevisor.manager.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Logins under attack, against a manager in this JVM: parallel wrong passwords lock an account at exactly the
 * threshold with every attempt audited; an administrator's disable or password reset made during a storm of
 * logins stays; an unknown user name costs and answers the same as a wrong password; rate limits per address and
 * per user name (429 with Retry-After, audited once per episode) cover logins, signatures and password changes.
 */
class LoginHardeningTest {
    static final String PASSWORD = "First-Password-77";
    static final String GOOD = "Good-Password-88";

    @TempDir
    static Path dir;
    static Manager manager;
    static Http admin;

    @BeforeAll
    static void start() throws Exception {
        System.setProperty("carevisor.admin-password", Lab.ADMIN_PASSWORD);
        manager = Manager.start(ManagerConfig.parse(new String[] {"--data-dir", dir.resolve("manager").toString(), "--port", "0",
            "--agent-port", "0"}, Map.of()));
        admin = http().login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
    }

    @AfterAll
    static void stop() {
        if (manager != null) {
            manager.close();
        }
    }

    /** Each test starts with generous rate limits (all requests come from 127.0.0.1) and the default lockout. */
    @BeforeEach
    void limits() {
        admin.patch("/api/v1/settings/security", "{\"failedLoginsPerAddressPerMinute\":10000,"
                + "\"failedLoginsPerUserPerMinute\":1000,\"lockoutThreshold\":5}").expect(200);
    }

    static Http http() {
        return Http.forManager(dir.resolve("manager"), manager.port());
    }

    static void createUser(String name, String role) {
        admin.post("/api/v1/users", "{\"username\":\"" + name + "\",\"fullName\":\"" + name.toUpperCase()
                + " Person\",\"password\":\"" + PASSWORD + "\",\"roles\":[{\"role\":\"" + role + "\"}]}").expect(201);
        http().login(name, PASSWORD).post("/api/v1/auth/password", "{\"currentPassword\":\"" + PASSWORD
                + "\",\"newPassword\":\"" + GOOD + "\"}").expect(204);
    }

    static String login(String user, String password) {
        return "{\"username\":\"" + user + "\",\"password\":\"" + password + "\"}";
    }

    static List<JsonNode> audit(String action, String target) {
        List<JsonNode> out = new ArrayList<>();
        admin.get("/api/v1/audit?action=" + action + "&limit=10000&order=asc").expect(200).json().forEach(r -> {
            if (target == null || target.equals(r.path("targetName").asText())) {
                out.add(r);
            }
        });
        return out;
    }

    /** Runs {@code n} calls at once (released together); their answers. */
    static List<Http.Response> storm(int n, java.util.function.IntFunction<Http.Response> call) throws Exception {
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

    static long count(List<Http.Response> rs, int status) {
        return rs.stream().filter(r -> r.status() == status).count();
    }

    @Test
    void parallelWrongPasswordsLockAtExactlyTheThresholdEveryAttemptAudited() throws Exception {
        createUser("paula", "operator");
        List<Http.Response> rs = storm(40, i -> http().post("/api/v1/auth/login", login("paula", "wrong-" + i)));
        // each answer is a refusal; none is an error
        assertThat(rs).allSatisfy(r -> assertThat(r.status()).isIn(401, 403, 503));
        List<JsonNode> attempts = audit("auth.login", "paula").stream()
                .filter(r -> !r.path("outcome").asText().equals("success")).toList();
        // every checked attempt is in the trail: as many records as 401 and 403 answers
        assertThat(attempts).hasSize((int) (count(rs, 401) + count(rs, 403)));
        // exactly the threshold was counted, one each: 1, 2, 3, 4, 5
        TreeSet<Integer> counted = new TreeSet<>();
        attempts.forEach(r -> {
            if (r.path("newValue").has("failedAttempts")) {
                assertThat(counted.add(r.path("newValue").path("failedAttempts").asInt())).isTrue();
            }
        });
        assertThat(counted).containsExactly(1, 2, 3, 4, 5);
        assertThat(audit("user.locked", "paula")).hasSize(1);
        JsonNode user = admin.get("/api/v1/users/paula").expect(200).json();
        assertThat(user.path("locked").asBoolean()).isTrue();
        assertThat(http().post("/api/v1/auth/login", login("paula", GOOD)).json().path("code").asText())
                .isEqualTo("account-locked");
        admin.post("/api/v1/users/paula/unlock", null).expect(200);
        http().login("paula", GOOD);
    }

    @Test
    void anAdministratorsDisableDuringAStormOfLoginsStays() throws Exception {
        createUser("quinn", "operator");
        AtomicInteger in = new AtomicInteger();
        List<String> sessions = Collections.synchronizedList(new ArrayList<>());
        Throwable[] failed = new Throwable[1];
        Thread disabler = Thread.ofVirtual().start(() -> {
            try {
                Poll.until(java.time.Duration.ofSeconds(60), "a first login of the storm", () -> in.get() > 0);
                admin.patch("/api/v1/users/quinn", "{\"enabled\":false}").expect(200);
            } catch (Throwable t) {
                failed[0] = t;
            }
        });
        List<Http.Response> rs = storm(30, i -> {
            Http.Response r = http().post("/api/v1/auth/login", login("quinn", GOOD));
            if (r.status() == 201) {
                in.incrementAndGet();
                sessions.add(r.json().path("token").asText());
            }
            return r;
        });
        disabler.join();
        assertThat(failed[0]).as("the administrator's disable").isNull();
        assertThat(rs).allSatisfy(r -> assertThat(r.status()).isIn(201, 403, 503));
        JsonNode user = admin.get("/api/v1/users/quinn").expect(200).json();
        assertThat(user.path("enabled").asBoolean()).as("the disable stays").isFalse();
        for (String s : sessions) {
            assertThat(http().withToken(s).get("/api/v1/auth/whoami").status()).isEqualTo(401);
        }
        assertThat(http().post("/api/v1/auth/login", login("quinn", GOOD)).json().path("code").asText())
                .isEqualTo("account-disabled");
        // re-enabled, no session of the storm comes back to life: the disable revoked them all
        admin.patch("/api/v1/users/quinn", "{\"enabled\":true}").expect(200);
        for (String s : sessions) {
            assertThat(http().withToken(s).get("/api/v1/auth/whoami").status()).isEqualTo(401);
        }
    }

    @Test
    void aPasswordResetDuringAStormOfLoginsStays() throws Exception {
        createUser("rita", "operator");
        AtomicInteger in = new AtomicInteger();
        String[] temporary = new String[1];
        Throwable[] failed = new Throwable[1];
        Thread resetter = Thread.ofVirtual().start(() -> {
            try {
                Poll.until(java.time.Duration.ofSeconds(60), "a first login of the storm", () -> in.get() > 0);
                // the reset hashes the new password through the same bounded gate as the storm's logins: when that
                // is busy past its wait it answers 503 with Retry-After, and the administrator tries again
                temporary[0] = Poll.until(java.time.Duration.ofSeconds(60), "the password reset", () -> {
                    Http.Response r = admin.post("/api/v1/users/rita/password-reset", null);
                    if (r.status() == 503 && r.json().path("code").asText().equals("auth-busy")) {
                        return null;
                    }
                    return r.expect(200).json().path("temporaryPassword").asText();
                });
            } catch (Throwable t) {
                failed[0] = t;
            }
        });
        List<Http.Response> rs = storm(30, i -> {
            Http.Response r = http().post("/api/v1/auth/login", login("rita", GOOD));
            if (r.status() == 201) {
                in.incrementAndGet();
            }
            return r;
        });
        resetter.join();
        assertThat(failed[0]).as("the administrator's reset").isNull();
        assertThat(rs).allSatisfy(r -> assertThat(r.status()).isIn(201, 401, 503));
        assertThat(http().post("/api/v1/auth/login", login("rita", GOOD)).status()).isEqualTo(401);
        JsonNode s = http().post("/api/v1/auth/login", login("rita", temporary[0])).expect(201).json();
        assertThat(s.path("mustChangePassword").asBoolean()).as("the reset stays").isTrue();
    }

    @Test
    void anUnknownUserCostsAndAnswersTheSameAsAWrongPassword() {
        createUser("sam", "read-only");
        HashingGate gate = PasswordHasher.gate();
        long before = gate.completed();
        Http.Response wrong = http().post("/api/v1/auth/login", login("sam", "not-his-password"));
        long afterWrong = gate.completed();
        Http.Response unknown = http().post("/api/v1/auth/login", login("nobody-at-all", "not-his-password"));
        long afterUnknown = gate.completed();
        assertThat(afterWrong - before).as("one hash for a wrong password").isEqualTo(1);
        assertThat(afterUnknown - afterWrong).as("one hash for an unknown user").isEqualTo(1);
        assertThat(unknown.status()).isEqualTo(wrong.status()).isEqualTo(401);
        for (String field : List.of("type", "title", "status", "detail", "code")) {
            assertThat(unknown.json().path(field)).as(field).isEqualTo(wrong.json().path(field));
        }
        assertThat(TreeSetOf(unknown.json())).isEqualTo(TreeSetOf(wrong.json()));
        // and the same limit applies to both names
        admin.patch("/api/v1/settings/security", "{\"failedLoginsPerUserPerMinute\":3,\"lockoutThreshold\":20}")
                .expect(200);
        for (String name : List.of("sam", "nobody-else")) {
            for (int i = 0; i < 3; i++) {
                assertThat(http().post("/api/v1/auth/login", login(name, "again-wrong")).status()).isEqualTo(401);
            }
        }
        Http.Response samLimited = http().post("/api/v1/auth/login", login("sam", "again-wrong"));
        Http.Response nobodyLimited = http().post("/api/v1/auth/login", login("nobody-else", "again-wrong"));
        assertThat(samLimited.status()).isEqualTo(nobodyLimited.status()).isEqualTo(429);
        assertThat(samLimited.json().path("code")).isEqualTo(nobodyLimited.json().path("code"));
    }

    @Test
    void anOverlongUserNameIsJustAnUnknownUser() {
        String name = "x".repeat(5000);
        Http.Response r = http().post("/api/v1/auth/login", login(name, "whatever"));
        assertThat(r.status()).as(r.text()).isEqualTo(401);
        assertThat(r.json().path("code").asText()).isEqualTo("login-failed");
        JsonNode last = admin.get("/api/v1/audit?action=auth.login&limit=1").expect(200).json().get(0);
        assertThat(last.path("targetName").asText()).isEqualTo("x".repeat(64) + "...");
        assertThat(last.path("reason").asText()).isEqualTo("unknown user");
        // the same for the name in a signature
        Http.Response sig = admin.post("/api/v1/audit/reviews", "{\"from\":\"2026-01-01\",\"to\":\"2099-01-01\","
                + "\"conclusion\":\"ok\",\"signature\":{\"username\":\"" + name + "\",\"password\":\"x\","
                + "\"meaning\":\"reviewed\"}}");
        assertThat(sig.status()).as(sig.text()).isEqualTo(403);
        assertThat(sig.json().path("code").asText()).isEqualTo("signature-invalid");
    }

    private static TreeSet<String> TreeSetOf(JsonNode n) {
        TreeSet<String> s = new TreeSet<>();
        n.fieldNames().forEachRemaining(s::add);
        s.remove("instance");
        return s;
    }

    @Test
    void perAddressLimitAnswers429WithRetryAfterAuditedOncePerEpisode() {
        admin.patch("/api/v1/settings/security", "{\"failedLoginsPerAddressPerMinute\":5}").expect(200);
        int rateLimitedBefore = audit("auth.rate-limited", "127.0.0.1").size();
        try {
            for (int i = 0; i < 5; i++) {
                assertThat(http().post("/api/v1/auth/login", login("guess-" + i, "guess")).status()).isEqualTo(401);
            }
            List<Http.Response> refused = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                refused.add(http().post("/api/v1/auth/login", login("guess-more-" + i, "guess")));
            }
            assertThat(refused).allSatisfy(r -> {
                assertThat(r.status()).isEqualTo(429);
                assertThat(r.json().path("code").asText()).isEqualTo("too-many-attempts");
                assertThat(Long.parseLong(r.header("Retry-After"))).isPositive();
                assertThat(r.json().path("retryAfterSeconds").asLong()).isEqualTo(Long.parseLong(r.header("Retry-After")));
            });
            // even the right password waits: the address is limited, not the name (a token was not needed)
            assertThat(http().post("/api/v1/auth/login", login(Lab.ADMIN, Lab.ADMIN_PASSWORD)).status()).isEqualTo(429);
            List<JsonNode> records = audit("auth.rate-limited", "127.0.0.1");
            assertThat(records).hasSize(rateLimitedBefore + 1);
            JsonNode r = records.get(records.size() - 1);
            assertThat(r.path("outcome").asText()).isEqualTo("refused");
            assertThat(r.path("targetType").asText()).isEqualTo("address");
            assertThat(r.path("newValue").path("limitPerMinute").asInt()).isEqualTo(5);
            // requests with a session need no password and are not limited
            admin.get("/api/v1/vms").expect(200);
        } finally {
            admin.patch("/api/v1/settings/security", "{\"failedLoginsPerAddressPerMinute\":10000}").expect(200);
        }
        // the bucket refills at the new rate: logins work again
        Poll.until(java.time.Duration.ofSeconds(10), "logins admitted again",
                () -> http().post("/api/v1/auth/login", login(Lab.ADMIN, Lab.ADMIN_PASSWORD)).status() == 201);
    }

    @Test
    void signaturesAndPasswordChangesShareThePerUserLimitWithLogins() {
        createUser("vic", "auditor");
        Http vic = http().login("vic", GOOD);
        admin.patch("/api/v1/settings/security", "{\"failedLoginsPerUserPerMinute\":3,\"lockoutThreshold\":20}")
                .expect(200);
        String review = "{\"from\":\"2026-01-01\",\"to\":\"2099-01-01\",\"conclusion\":\"ok\",\"signature\":"
                + "{\"username\":\"vic\",\"password\":\"%s\",\"meaning\":\"reviewed\"}}";
        assertThat(vic.post("/api/v1/audit/reviews", review.formatted("nope")).json().path("code").asText())
                .isEqualTo("signature-invalid");
        assertThat(vic.post("/api/v1/auth/password", "{\"currentPassword\":\"nope\",\"newPassword\":\"Other-Pass-99x\"}")
                .json().path("code").asText()).isEqualTo("wrong-password");
        assertThat(http().post("/api/v1/auth/login", login("vic", "nope")).status()).isEqualTo(401);
        // three failures of three kinds: the fourth attempt of any kind waits
        Supplier<List<Http.Response>> all = () -> List.of(
                vic.post("/api/v1/audit/reviews", review.formatted(GOOD)),
                vic.post("/api/v1/auth/password", "{\"currentPassword\":\"" + GOOD + "\",\"newPassword\":\"Other-Pass-99x\"}"),
                http().post("/api/v1/auth/login", login("vic", GOOD)));
        assertThat(all.get()).allSatisfy(r -> {
            assertThat(r.status()).isEqualTo(429);
            assertThat(r.header("Retry-After")).isNotNull();
        });
        assertThat(admin.get("/api/v1/users/vic").json().path("failedLogins").asInt()).isEqualTo(3);
        // other users from the same address are not affected
        http().login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
    }

    @Test
    void theLimitKeysAreForgottenByTheLoginLimitsJob() {
        assertThat(manager.jobs().status()).extracting(s -> s.name()).contains("login-limits", "ha-evaluation",
                "reconcile", "balancer", "migration-recovery", "audit-checkpoints");
    }
}
