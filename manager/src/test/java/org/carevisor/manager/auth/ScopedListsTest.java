package org.carevisor.manager.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditQueries;
import org.carevisor.manager.audit.AuditRecord;
import org.carevisor.manager.cluster.ClusterRecord;
import org.carevisor.manager.cluster.ClusterRepository;
import org.carevisor.manager.db.Database;
import org.carevisor.manager.db.Sql;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.migration.MigrationRecord;
import org.carevisor.manager.migration.MigrationRepository;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.vm.Lifecycle;
import org.carevisor.manager.vm.PowerState;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.protocol.HostInventory;
import org.carevisor.testkit.PostgresServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Lists filtered by the caller's scopes in SQL, before LIMIT and OFFSET (tasks, migrations), the history of one
 * VM (its own records of its current life only), and the audit stream's cursor - against both databases, H2
 * and a real PostgreSQL server.
 */
class ScopedListsTest {
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

    /** A fresh database of {@code kind} (PostgreSQL: a new database on the shared server). */
    private static Database open(String kind) throws Exception {
        String name = "scoped" + (++counter);
        if (kind.equals("h2")) {
            return Database.open(Database.h2Url(dir.resolve(name)), null, null);
        }
        postgres.psql("CREATE DATABASE " + name);
        return Database.open(postgres.jdbcUrl().replaceAll("/[^/]*$", "/" + name), postgres.user(), null);
    }

    private static final String ICU = "00000000-0000-4000-8000-0000000000c1";

    /** Cluster icu with host h2 (VM b), default cluster with host h1 (VMs a and c). */
    private record World(Database db, TaskService tasks, String a, String b, String c) {
    }

    private static World world(Database db) {
        Instant now = Instant.now();
        ClusterRepository clusters = new ClusterRepository(db.jdbi());
        ClusterRecord def = clusters.find(ClusterRecord.DEFAULT_ID).orElseThrow();
        db.jdbi().useTransaction(h -> clusters.insert(h, new ClusterRecord(ICU, "icu", null, def.cpuModel(),
                def.criticality(), null, 1, 1, def.migration(), def.balancer(), now, now)));
        HostRepository hosts = new HostRepository(db.jdbi());
        hosts.upsert(inventory("h1"), now);
        hosts.upsert(inventory("h2"), now);
        db.jdbi().useTransaction(h -> hosts.updateSettings(h, "h2", ICU, List.of(), 0, null));
        VmRepository vms = new VmRepository(db.jdbi());
        String a = UUID.randomUUID().toString();
        String b = UUID.randomUUID().toString();
        String c = UUID.randomUUID().toString();
        db.jdbi().useTransaction(h -> {
            vms.insert(h, vm(a, "vm-a", "h1", ClusterRecord.DEFAULT_ID, 1));
            vms.insert(h, vm(b, "vm-b", "h2", ICU, 2));
            vms.insert(h, vm(c, "vm-c", "h1", ClusterRecord.DEFAULT_ID, 3));
        });
        return new World(db, new TaskService(db.jdbi()), a, b, c);
    }

    private static HostInventory inventory(String id) {
        return new HostInventory(id, "host-" + id, "http://127.0.0.1:7701", 2, "cpu", 4096, 3000, "/srv", 100, 50,
                "7.2", "tcg", List.of(), false, "dev", 1, "d-1", 0, List.of("qemu64"), List.of(), "127.0.0.1",
                49152, 49215);
    }

    private static VmRecord vm(String id, String name, String hostId, String clusterId, int n) {
        Instant now = Instant.now();
        return new VmRecord(id, name, null, 1, 256, "pc", "qemu64", hostId, PowerState.STOPPED, Lifecycle.READY, 1,
                now, now, now, List.of(), List.of(new VmRecord.Nic("nic0", 0, "52:54:00:00:00:0" + n, "user",
                List.of(), null, "user", null, 0, null)), null, null, null, null, clusterId, null, false);
    }

    /** Inserts a finished task of {@code type}/{@code id} created at {@code at}. */
    private static void task(Database db, String type, String id, Instant at) {
        db.jdbi().useHandle(h -> h.createUpdate("""
                INSERT INTO tasks (id, kind, target_type, target_id, target_name, state, progress, actor, created_at)
                VALUES (:id, 'test', :tt, :tid, :tid, 'succeeded', 100, 'test', :at)""")
                .bind("id", UUID.randomUUID().toString()).bind("tt", type).bind("tid", id).bind("at", Sql.ts(at))
                .execute());
    }

    private static ScopeFilter scopes(String type, String... ids) {
        Set<String> set = Set.of(ids);
        return new ScopeFilter(false, type.equals(Scope.CLUSTER) ? set : Set.of(), type.equals(Scope.HOST) ? set
                : Set.of(), type.equals(Scope.VM) ? set : Set.of());
    }

    @ParameterizedTest
    @MethodSource("databases")
    void tasksAreFilteredByScopeBeforeTheLimit(String kind) throws Exception {
        try (Database db = open(kind)) {
            World w = world(db);
            Instant t0 = Instant.now().minusSeconds(3600);
            task(db, "vm", w.a(), t0);               // the oldest: vm-a's only task
            task(db, "host", "h1", t0.plusSeconds(1));
            for (int i = 0; i < 60; i++) {          // 60 newer tasks of vm-b (icu) and 10 of a template
                task(db, "vm", w.b(), t0.plusSeconds(10 + i));
            }
            for (int i = 0; i < 10; i++) {
                task(db, "template", "t-1", t0.plusSeconds(100 + i));
            }
            TaskService tasks = w.tasks();
            // an operator of vm-a sees vm-a's task although 72 newer tasks exist
            assertThat(tasks.list(null, scopes(Scope.VM, w.a()), null, 50, 0)).extracting(t -> t.target().id())
                    .containsExactly(w.a());
            // an operator of cluster icu sees 50 of vm-b's tasks, then the other 10 on the next page
            List<TaskRecord> icu = tasks.list(null, scopes(Scope.CLUSTER, ICU), null, 50, 0);
            assertThat(icu).hasSize(50).allSatisfy(t -> assertThat(t.target().id()).isEqualTo(w.b()));
            assertThat(tasks.list(null, scopes(Scope.CLUSTER, ICU), null, 50, 50)).hasSize(10);
            // a host scope covers the host's own tasks and those of its VMs
            assertThat(tasks.list(null, scopes(Scope.HOST, "h1"), null, 50, 0)).extracting(t -> t.target().id())
                    .containsExactly("h1", w.a());
            // the default cluster: its host and its VMs, not icu's, not templates
            assertThat(tasks.list(null, scopes(Scope.CLUSTER, ClusterRecord.DEFAULT_ID), null, 1000, 0))
                    .extracting(t -> t.target().id()).containsExactly("h1", w.a());
            // no scope: nothing; global: everything, templates too
            assertThat(tasks.list(null, new ScopeFilter(false, Set.of(), Set.of(), Set.of()), null, 50, 0)).isEmpty();
            assertThat(tasks.list(null, ScopeFilter.EVERYTHING, null, 1000, 0)).hasSize(72);
            // a target filter within the scope
            assertThat(tasks.list(w.b(), scopes(Scope.VM, w.a()), null, 50, 0)).isEmpty();
            assertThat(tasks.list(w.a(), scopes(Scope.VM, w.a()), null, 50, 0)).hasSize(1);
            // the tasks a user started stay theirs to see, also once the VM is gone (a deleted VM's task)
            String gone = UUID.randomUUID().toString();
            db.jdbi().useHandle(h -> h.createUpdate("""
                    INSERT INTO tasks (id, kind, target_type, target_id, target_name, state, progress, actor, created_at)
                    VALUES (:id, 'vm.delete', 'vm', :tid, 'gone', 'succeeded', 100, 'olga', :at)""")
                    .bind("id", UUID.randomUUID().toString()).bind("tid", gone).bind("at", Sql.ts(Instant.now()))
                    .execute());
            assertThat(tasks.list(null, scopes(Scope.VM, w.a()), "olga", 50, 0)).extracting(t -> t.target().id())
                    .containsExactly(gone, w.a());
            assertThat(tasks.list(null, scopes(Scope.VM, w.a()), "someone-else", 50, 0))
                    .extracting(t -> t.target().id()).containsExactly(w.a());
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void migrationsAreFilteredByScopeBeforeTheLimit(String kind) throws Exception {
        try (Database db = open(kind)) {
            World w = world(db);
            MigrationRepository repo = new MigrationRepository(db.jdbi());
            Instant t0 = Instant.now().minusSeconds(3600);
            repo.insert(migration(w.a(), "vm-a", t0));
            for (int i = 0; i < 30; i++) {
                repo.insert(migration(w.b(), "vm-b", t0.plusSeconds(10 + i)));
            }
            repo.insert(migration(UUID.randomUUID().toString(), "deleted-vm", t0.plusSeconds(100)));
            assertThat(repo.list(null, scopes(Scope.VM, w.a()), 10, 0)).extracting(MigrationRecord::vmName)
                    .containsExactly("vm-a");
            assertThat(repo.list(null, scopes(Scope.HOST, "h2"), 10, 20)).hasSize(10)
                    .allSatisfy(m -> assertThat(m.vmName()).isEqualTo("vm-b"));
            assertThat(repo.list(null, ScopeFilter.EVERYTHING, 100, 0)).hasSize(32);
            assertThat(repo.list(w.a(), scopes(Scope.CLUSTER, ICU), 100, 0)).isEmpty();
        }
    }

    private static MigrationRecord migration(String vmId, String vmName, Instant at) {
        return new MigrationRecord(UUID.randomUUID().toString(), vmId, vmName, "h1", "h2", "completed", "operator",
                null, "test", null, 100, 300, false, at, at, null, null, null, null, null);
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aVmsHistoryHoldsOnlyItsOwnRecordsOfItsCurrentLife(String kind) throws Exception {
        try (Database db = open(kind)) {
            AuditLog audit = new AuditLog(db.jdbi());
            String id = UUID.randomUUID().toString();
            Actor olga = Actor.user("olga", "10.0.0.7");
            audit.record(entry(olga, "vm.create", "vm", id, "old-life", "created in the lab cluster"));
            audit.record(entry(olga, "vm.start", "vm", id, "old-life", "INC-1 old life"));
            audit.record(entry(olga, "vm.delete", "vm", id, "old-life", null));
            // the same id comes back (an import that keeps the exported identity)
            audit.record(entry(Actor.user("ivan", "10.0.0.8"), "vm.import", "vm", id, "new-life", "imported"));
            audit.record(entry(Actor.user("ivan", "10.0.0.8"), "vm.start", "vm", id, "new-life", "INC-2"));
            // an object of another type with the same id, and another VM named like the id
            audit.record(entry(olga, "template.create", "template", id, "tpl", null));
            audit.record(entry(olga, "vm.create", "vm", UUID.randomUUID().toString(), id, "named like the id"));
            AuditQueries q = new AuditQueries(audit);
            assertThat(q.ofVm(id, 100, 0)).extracting(AuditRecord::action).containsExactly("vm.start", "vm.import");
            assertThat(q.ofVm(id, 1, 1)).extracting(AuditRecord::reason).containsExactly("imported");
            // the full trail (for Audit.Review) keeps everything
            assertThat(audit.query(AuditLog.Filter.target(id, 100))).hasSize(7);
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void theAuditStreamReadsThroughACursorAndLeavesTheSessionAsItWas(String kind) throws Exception {
        try (Database db = open(kind)) {
            AuditLog audit = new AuditLog(db.jdbi());
            db.jdbi().useTransaction(h -> {
                for (int i = 0; i < 2_500; i++) {
                    audit.record(h, entry(Actor.system("test"), "test.record", "vm", "v" + (i % 7), "n", "r" + i));
                }
            });
            List<Long> seqs = new ArrayList<>();
            audit.stream(new AuditLog.Filter(null, null, null, null, "test.*", null, 2_000, true),
                    r -> seqs.add(r.seq()));
            assertThat(seqs).hasSize(2_000).isSorted();
            // the pooled connection is back to normal (H2's lazy execution switched off again)
            if (kind.equals("h2")) {
                for (int i = 0; i < 12; i++) { // more than the pool holds: every connection was seen
                    boolean lazy = db.jdbi().withHandle(h -> ((org.h2.engine.SessionLocal) h.getConnection()
                            .unwrap(org.h2.jdbc.JdbcConnection.class).getSession()).isLazyQueryExecution());
                    assertThat(lazy).isFalse();
                }
            }
            assertThat(audit.count(new AuditLog.Filter(null, null, null, null, "test.*", null, 1, true)))
                    .isEqualTo(2_500);
        }
    }

    private static AuditLog.Entry entry(Actor actor, String action, String type, String id, String name,
                                        String reason) {
        return new AuditLog.Entry(actor, action, type, id, name, null, Map.of("x", 1), reason,
                AuditLog.Outcome.SUCCESS, null);
    }
}
