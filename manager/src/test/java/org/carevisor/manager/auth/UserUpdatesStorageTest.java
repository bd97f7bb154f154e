package org.carevisor.manager.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;
import org.carevisor.manager.db.Database;
import org.carevisor.testkit.PostgresServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The targeted updates of accounts on both databases (embedded H2 and a real PostgreSQL): failures counted in
 * SQL under the row lock - exactly once each, also from many transactions at once - with the lock set in the
 * same statement at the threshold; a login recorded only while nothing it checked changed; password, profile
 * and unlock updates that leave every other column alone.
 */
class UserUpdatesStorageTest {
    @TempDir
    static Path dir;
    private static PostgresServer postgres;
    private static int counter;

    @BeforeAll
    static void startPostgres() throws Exception {
        postgres = PostgresServer.start();
    }

    @AfterAll
    static void stopPostgres() throws Exception {
        if (postgres != null) {
            postgres.close();
        }
    }

    static Stream<String> databases() {
        return Stream.of("h2", "postgresql");
    }

    private static Database open(String kind) {
        if (kind.equals("h2")) {
            return Database.open(Database.h2Url(dir.resolve("h2-" + (++counter))), null, null);
        }
        Database db = Database.open(postgres.jdbcUrl(), postgres.user(), null);
        db.jdbi().useHandle(h -> {
            for (String t : List.of("auth_tokens", "role_assignments", "users")) {
                h.execute("DELETE FROM " + t);
            }
        });
        return db;
    }

    private static UserRecord user(String id, String name) {
        Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
        return new UserRecord(id, name, name.toUpperCase(), name + "@example.org", "$argon2id$hash-of-" + name, true,
                false, 0, null, false, now, null, now, null);
    }

    @ParameterizedTest
    @MethodSource("databases")
    void failuresCountInSqlAndLockAtTheThreshold(String kind) {
        try (Database db = open(kind)) {
            UserRepository repo = new UserRepository(db.jdbi());
            db.jdbi().useHandle(h -> repo.insert(h, user("u-1", "anna")));
            Instant now = Instant.now();
            Instant until = now.plus(Duration.ofMinutes(30));
            for (int i = 1; i <= 4; i++) {
                assertThat((int) db.jdbi().withHandle(h -> repo.countFailure(h, "u-1", 5, until, now))).isEqualTo(1);
                assertThat(repo.find("u-1").orElseThrow().failedLogins()).isEqualTo(i);
                assertThat(repo.find("u-1").orElseThrow().lockedAt(now)).isFalse();
            }
            db.jdbi().useHandle(h -> repo.countFailure(h, "u-1", 5, until, now));
            UserRecord locked = repo.find("u-1").orElseThrow();
            assertThat(locked.failedLogins()).isZero();
            assertThat(locked.lockedAt(now)).isTrue();
            // while locked nothing counts
            assertThat((int) db.jdbi().withHandle(h -> repo.countFailure(h, "u-1", 5, until, now))).isZero();
            // the other columns were never written
            assertThat(locked.fullName()).isEqualTo("ANNA");
            assertThat(locked.enabled()).isTrue();
            assertThat(locked.passwordHash()).isEqualTo("$argon2id$hash-of-anna");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void parallelFailuresUnderTheRowLockAreEachCountedOnce(String kind) throws Exception {
        try (Database db = open(kind)) {
            UserRepository repo = new UserRepository(db.jdbi());
            db.jdbi().useHandle(h -> repo.insert(h, user("u-2", "bert")));
            Instant now = Instant.now();
            Set<Integer> seen = ConcurrentHashMap.newKeySet();
            List<Integer> notCounted = new java.util.concurrent.CopyOnWriteArrayList<>();
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    // what AuthService does for one failed attempt: lock the row, read, count in SQL
                    db.jdbi().useTransaction(h -> {
                        UserRecord cur = repo.findForUpdate(h, "u-2").orElseThrow();
                        if (cur.lockedAt(now)) {
                            notCounted.add(1);
                            return;
                        }
                        int n = cur.failedLogins() + 1;
                        repo.countFailure(h, "u-2", 10, now.plus(Duration.ofMinutes(5)), now);
                        seen.add(n);
                    });
                }));
            }
            go.countDown();
            for (Thread t : threads) {
                t.join();
            }
            assertThat(seen).containsExactlyInAnyOrder(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
            assertThat(notCounted).hasSize(14);
            assertThat(repo.find("u-2").orElseThrow().lockedAt(now)).isTrue();
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aLoginIsRecordedOnlyWhileWhatItCheckedStillHolds(String kind) {
        try (Database db = open(kind)) {
            UserRepository repo = new UserRepository(db.jdbi());
            db.jdbi().useHandle(h -> repo.insert(h, user("u-3", "carl")));
            Instant now = Instant.now();
            String hash = "$argon2id$hash-of-carl";
            assertThat((int) db.jdbi().withHandle(h -> repo.loggedIn(h, "u-3", hash, now))).isEqualTo(1);
            assertThat(repo.find("u-3").orElseThrow().lastLoginAt()).isNotNull();
            // disabled meanwhile
            db.jdbi().useHandle(h -> repo.updateProfile(h, "u-3", null, null, false));
            assertThat((int) db.jdbi().withHandle(h -> repo.loggedIn(h, "u-3", hash, now))).isZero();
            assertThat(repo.find("u-3").orElseThrow().enabled()).isFalse();
            db.jdbi().useHandle(h -> repo.updateProfile(h, "u-3", null, null, true));
            // password reset meanwhile (unlocks, must change)
            db.jdbi().useHandle(h -> repo.setPassword(h, "u-3", "$argon2id$new", true, now, null, null, true));
            assertThat((int) db.jdbi().withHandle(h -> repo.loggedIn(h, "u-3", hash, now))).isZero();
            assertThat(repo.find("u-3").orElseThrow().mustChangePassword()).isTrue();
            // an expired password
            db.jdbi().useHandle(h -> repo.setPassword(h, "u-3", "$argon2id$new", false, now, now.minusSeconds(1),
                    null, false));
            assertThat((int) db.jdbi().withHandle(h -> repo.loggedIn(h, "u-3", "$argon2id$new", now))).isZero();
            // locked meanwhile
            db.jdbi().useHandle(h -> repo.setPassword(h, "u-3", "$argon2id$new", false, now, null, null, false));
            db.jdbi().useHandle(h -> repo.countFailure(h, "u-3", 1, now.plus(Duration.ofMinutes(1)), now));
            assertThat((int) db.jdbi().withHandle(h -> repo.loggedIn(h, "u-3", "$argon2id$new", now))).isZero();
            db.jdbi().useHandle(h -> repo.unlock(h, "u-3"));
            assertThat((int) db.jdbi().withHandle(h -> repo.loggedIn(h, "u-3", "$argon2id$new", now))).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void passwordAndProfileUpdatesWriteOnlyTheirColumns(String kind) {
        try (Database db = open(kind)) {
            UserRepository repo = new UserRepository(db.jdbi());
            db.jdbi().useHandle(h -> repo.insert(h, user("u-4", "dora")));
            Instant now = Instant.now();
            // a password change that expects the old hash loses against a reset made meanwhile
            db.jdbi().useHandle(h -> repo.setPassword(h, "u-4", "$argon2id$reset", true, now, null, null, true));
            assertThat((int) db.jdbi().withHandle(h -> repo.setPassword(h, "u-4", "$argon2id$mine", false, now, null,
                    "$argon2id$hash-of-dora", false))).isZero();
            assertThat(repo.find("u-4").orElseThrow().passwordHash()).isEqualTo("$argon2id$reset");
            // a profile change leaves the password, the lock and the failures alone
            db.jdbi().useHandle(h -> repo.countFailure(h, "u-4", 5, now.plusSeconds(60), now));
            db.jdbi().useHandle(h -> repo.updateProfile(h, "u-4", "Dora D.", "", null));
            UserRecord u = repo.find("u-4").orElseThrow();
            assertThat(u.fullName()).isEqualTo("Dora D.");
            assertThat(u.email()).isNull();
            assertThat(u.enabled()).isTrue();
            assertThat(u.failedLogins()).isEqualTo(1);
            assertThat(u.passwordHash()).isEqualTo("$argon2id$reset");
            assertThat(u.mustChangePassword()).isTrue();
            // a success of a signature forgets failures but leaves the rest
            db.jdbi().useHandle(h -> repo.resetFailures(h, "u-4", now));
            assertThat(repo.find("u-4").orElseThrow().failedLogins()).isZero();
            assertThat(repo.find("u-4").orElseThrow().fullName()).isEqualTo("Dora D.");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void theInitialAdminPasswordOfAnEarlierVersionGetsAnExpiry(String kind) {
        try (Database db = open(kind)) {
            UserRepository repo = new UserRepository(db.jdbi());
            UserRecord admin = user("u-5", "admin");
            db.jdbi().useHandle(h -> repo.insert(h, admin));
            Instant at = Instant.now().plus(Duration.ofHours(24));
            assertThat((int) db.jdbi().withHandle(h -> repo.expireInitialPassword(h, at))).isEqualTo(1);
            assertThat(repo.find("u-5").orElseThrow().passwordExpiresAt()).isNotNull();
            assertThat((int) db.jdbi().withHandle(h -> repo.expireInitialPassword(h, at))).as("only once").isZero();
            // an admin who set their own password keeps it without expiry
            db.jdbi().useHandle(h -> repo.setPassword(h, "u-5", "$argon2id$own", false, Instant.now().plusSeconds(5),
                    null, null, false));
            assertThat((int) db.jdbi().withHandle(h -> repo.expireInitialPassword(h, at))).isZero();
            assertThat(repo.find("u-5").orElseThrow().passwordExpiresAt()).isNull();
        }
    }
}
