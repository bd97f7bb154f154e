package org.carevisor.manager.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditRecord;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.snapshot.SnapshotRecord;
import org.carevisor.manager.snapshot.SnapshotRepository;
import org.carevisor.manager.template.TemplateRecord;
import org.carevisor.manager.template.TemplateRepository;
import org.carevisor.manager.template.TemplateState;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.task.TaskState;
import org.carevisor.manager.vm.Lifecycle;
import org.carevisor.manager.vm.ObservedStore;
import org.carevisor.manager.vm.PowerState;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.carevisor.testkit.PostgresServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The manager's storage (schema migrations, repositories, audit log, tasks) against both databases it
 * supports: embedded H2 and a real PostgreSQL server started for this test.
 */
class StorageTest {
    @TempDir
    static Path dir;
    private static PostgresServer postgres;

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

    private static int counter;

    private static Database open(String kind) {
        if (kind.equals("h2")) {
            return Database.open(Database.h2Url(dir.resolve("h2-" + (++counter))), null, null);
        }
        Database db = Database.open(postgres.jdbcUrl(), postgres.user(), null);
        db.jdbi().useHandle(h -> {
            for (String t : List.of("snapshots", "template_disks", "templates", "vm_port_forwards", "vm_nics",
                    "vm_disks", "vm_observed", "vms", "images", "hosts", "tasks", "audit_log", "audit_head",
                    "audit_checkpoints", "audit_reviews", "auth_tokens", "role_assignments", "users")) {
                h.execute("DELETE FROM " + t);
            }
        });
        return db;
    }

    private static HostInventory inventory(String id) {
        return new HostInventory(id, "host-a", "http://127.0.0.1:7701", 2, "cpu", 4096, 3000, "/srv", 100, 50,
                "7.2", "tcg", List.of("no kvm"), false, "dev", 1, "d-1", 0, List.of("qemu64"), List.of(), "127.0.0.1",
                49152, 49215);
    }

    private static VmRecord vm(String id, String name, String hostId) {
        Instant now = Instant.now();
        return new VmRecord(id, name, "a test VM", 1, 256, "pc", "qemu64", hostId, PowerState.STOPPED, Lifecycle.READY,
                1, now, now, now,
                List.of(new VmRecord.Disk("disk0", 0, "vms/" + id + "/disk0.qcow2", "qcow2", 1L << 30, null, "t-1")),
                List.of(new VmRecord.Nic("nic0", 0, "52:54:00:00:00:0" + name.length(), "user",
                        List.of(new VmRecord.Forward("tcp", 20000 + name.length(), 80)))), "t-1", null, null, null,
                org.carevisor.manager.cluster.ClusterRecord.DEFAULT_ID, null, false);
    }

    @ParameterizedTest
    @MethodSource("databases")
    void hostsVmsAndObservedStateRoundTrip(String kind) {
        try (Database db = open(kind)) {
            HostRepository hosts = new HostRepository(db.jdbi());
            assertThat(hosts.upsert(inventory("h1"), Instant.now())).isTrue();
            assertThat(hosts.upsert(inventory("h1"), Instant.now())).isFalse();
            assertThat(hosts.find("h1")).get().satisfies(h -> assertThat(h.inventory().warnings()).containsExactly("no kvm"));

            VmRepository vms = new VmRepository(db.jdbi());
            String id = "00000000-0000-4000-8000-000000000001";
            db.jdbi().useTransaction(h -> vms.insert(h, vm(id, "ehr-01", "h1")));
            VmRecord back = vms.find(id).orElseThrow();
            assertThat(back.name()).isEqualTo("ehr-01");
            assertThat(back.disks()).singleElement().satisfies(d -> assertThat(d.sizeBytes()).isEqualTo(1L << 30));
            assertThat(back.nics()).singleElement().satisfies(n -> assertThat(n.forwards()).hasSize(1));
            assertThat(vms.nameTaken("ehr-01", null)).isTrue();
            assertThat(vms.nameTaken("ehr-01", id)).isFalse();
            assertThat(vms.usedHostPorts("tcp")).containsExactly(20006);

            Instant at = Instant.now();
            db.jdbi().useTransaction(h -> vms.setPower(h, id, PowerState.RUNNING, at));
            assertThat(vms.find(id).orElseThrow().powerState()).isEqualTo(PowerState.RUNNING);
            db.jdbi().useTransaction(h -> vms.updateConfig(h, id, "ehr-02", null, 2, 512));
            assertThat(vms.find(id).orElseThrow()).satisfies(v -> {
                assertThat(v.specVersion()).isEqualTo(2);
                assertThat(v.memoryMiB()).isEqualTo(512);
            });

            ObservedStore observed = new ObservedStore(db.jdbi());
            // a start's answer and the host's report arriving together for a VM seen for the first time: both
            // write its first row (once a duplicate key, "internal-error" in a vm.create task)
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
            try {
                List<java.util.concurrent.Future<?>> writes = new java.util.ArrayList<>();
                for (int i = 0; i < 32; i++) {
                    String reason = "report " + i;
                    writes.add(pool.submit(() -> observed.put("h1", new VmStatus(id, VmState.RUNNING, reason, null,
                            1L, at, at, null, List.of(), 1))));
                }
                for (java.util.concurrent.Future<?> w : writes) {
                    w.get(); // none failed
                }
            } catch (Exception e) {
                throw new AssertionError("concurrent first observations failed", e);
            } finally {
                pool.shutdownNow();
            }
            ObservedStore raced = new ObservedStore(db.jdbi());
            raced.load();
            assertThat(raced.get(id).orElseThrow().status().reason()).as("one of them is stored").startsWith("report ");
            observed.put("h1", new VmStatus(id, VmState.CRASHED, "QEMU was killed by signal 9 (SIGKILL)",
                    StopCause.CRASH, null, at, at, 137, List.of(), 2));
            ObservedStore reloaded = new ObservedStore(db.jdbi());
            reloaded.load();
            assertThat(reloaded.get(id)).get().satisfies(o -> {
                assertThat(o.status().state()).isEqualTo(VmState.CRASHED);
                assertThat(o.status().cause()).isEqualTo(StopCause.CRASH);
                assertThat(o.status().exitCode()).isEqualTo(137);
            });

            // a report whose VMs were looked at before a direct answer arrived (a resume after a failed migration)
            // is older news: it must not undo the answer; a report taken afterwards is stored
            Instant taken = Instant.now();
            observed.put("h1", new VmStatus(id, VmState.RUNNING, "the migration did not hand over", null, 7L, at, at,
                    null, List.of(), 2));
            VmStatus migrating = new VmStatus(id, VmState.MIGRATING, "migrating", null, 7L, at, at, null, List.of(), 2);
            ObservedStore.Reported stale = observed.putReported("h1", migrating, taken.minusMillis(1), null);
            assertThat(stale.stored()).isFalse();
            assertThat(observed.get(id).orElseThrow().status().state()).isEqualTo(VmState.RUNNING);
            assertThat(observed.putReported("h2", migrating, taken, taken).stored()).as("another host's report")
                    .isTrue();
            observed.put("h1", new VmStatus(id, VmState.RUNNING, "back", null, 7L, at, at, null, List.of(), 2));
            assertThat(observed.putReported("h1", migrating, taken.minusSeconds(60), taken).stored())
                    .as("a report that waited in the manager while the answer came").isFalse();
            assertThat(observed.putReported("h1", migrating, taken.minusSeconds(60), Instant.now().plusMillis(1))
                    .stored()).as("beyond the window the clocks are taken to differ").isTrue();
            // a report's news never holds back the next report, even one that waited while the first was stored
            Instant waited = Instant.now();
            observed.putReported("h1", new VmStatus(id, VmState.RUNNING, "report 1", null, 7L, at, at, null,
                    List.of(), 2), waited, waited);
            assertThat(observed.putReported("h1", migrating, waited, waited).stored()).as("report 2").isTrue();
            ObservedStore.Reported fresh = observed.putReported("h1", new VmStatus(id, VmState.PAUSED, "paused", null,
                    7L, at, at, null, List.of(), 2), Instant.now().plusMillis(1), Instant.now().plusMillis(1));
            assertThat(fresh.stored()).isTrue();
            assertThat(fresh.before().orElseThrow().status().state()).isEqualTo(VmState.MIGRATING);

            db.jdbi().useTransaction(h -> vms.delete(h, id));
            assertThat(vms.find(id)).isEmpty();
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void templatesQualifyAndKnowTheirLinkedClones(String kind) {
        try (Database db = open(kind)) {
            new HostRepository(db.jdbi()).upsert(inventory("h1"), Instant.now());
            TemplateRepository templates = new TemplateRepository(db.jdbi());
            TemplateRecord t = new TemplateRecord("t-1", "ehr-master", 1, "EHR", "Debian 12", "anonymous",
                    TemplateState.DRAFT, 2, 1024, List.of(new TemplateRecord.Nic("user",
                    List.of(new TemplateRecord.Forward("tcp", 80)))), "vm-0", "ehr-src", null, Instant.now(), null, null,
                    null, null, List.of(new TemplateRecord.Disk("disk0", 0, "templates/t-1/disk0.qcow2", "qcow2",
                    1L << 30, null)));
            db.jdbi().useTransaction(h -> templates.insert(h, t));
            assertThat(templates.nextVersion("ehr-master")).isEqualTo(2);
            db.jdbi().useTransaction(h -> templates.qualify(h, "t-1", Map.of("disk0", "ab".repeat(32)), "qa", Instant.now()));
            TemplateRecord back = templates.find("t-1").orElseThrow();
            assertThat(back.state()).isEqualTo(TemplateState.QUALIFIED);
            assertThat(back.qualifiedBy()).isEqualTo("qa");
            assertThat(back.disks()).singleElement().satisfies(d -> assertThat(d.sha256()).isEqualTo("ab".repeat(32)));
            assertThat(back.nics()).singleElement().satisfies(n -> assertThat(n.forwards().get(0).guestPort()).isEqualTo(80));
            assertThat(templates.byName("ehr-master")).extracting(TemplateRecord::version).containsExactly(1);

            VmRepository vms = new VmRepository(db.jdbi());
            db.jdbi().useTransaction(h -> vms.insert(h, vm("00000000-0000-4000-8000-000000000011", "clone-a", "h1")));
            assertThat(vms.linkedCloneNames("t-1")).containsExactly("clone-a");
            assertThat(vms.find("00000000-0000-4000-8000-000000000011").orElseThrow().isLinkedClone()).isTrue();
            db.jdbi().useTransaction(h -> templates.retire(h, "t-1", "qa", Instant.now()));
            assertThat(templates.find("t-1").orElseThrow().state()).isEqualTo(TemplateState.RETIRED);
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void deletingASnapshotReparentsItsChildren(String kind) {
        try (Database db = open(kind)) {
            new HostRepository(db.jdbi()).upsert(inventory("h1"), Instant.now());
            VmRepository vms = new VmRepository(db.jdbi());
            String vmId = "00000000-0000-4000-8000-000000000021";
            db.jdbi().useTransaction(h -> vms.insert(h, vm(vmId, "snappy", "h1")));
            SnapshotRepository snaps = new SnapshotRepository(db.jdbi());
            Instant t0 = Instant.now();
            SnapshotRecord a = new SnapshotRecord("s-a", vmId, "a", null, null, true, true, 1, 256, 120L, t0, "x");
            SnapshotRecord b = new SnapshotRecord("s-b", vmId, "b", null, "s-a", false, true, 1, 256, null,
                    t0.plusSeconds(1), "x");
            SnapshotRecord c = new SnapshotRecord("s-c", vmId, "c", null, "s-b", false, false, 1, 256, null,
                    t0.plusSeconds(2), "x");
            db.jdbi().useTransaction(h -> {
                snaps.insert(h, a);
                snaps.insert(h, b);
                snaps.insert(h, c);
                vms.setCurrentSnapshot(h, vmId, "s-c");
            });
            assertThat(snaps.count(vmId)).isEqualTo(3);
            db.jdbi().useTransaction(h -> snaps.delete(h, b));
            assertThat(snaps.ofVm(vmId)).extracting(SnapshotRecord::name).containsExactly("a", "c");
            assertThat(snaps.find("s-c").orElseThrow().parentId()).isEqualTo("s-a");
            assertThat(snaps.find("s-a").orElseThrow().pausedMs()).isEqualTo(120L);
            assertThat(vms.find(vmId).orElseThrow().currentSnapshotId()).isEqualTo("s-c");
            assertThatThrownBy(() -> db.jdbi().useTransaction(h -> snaps.insert(h, new SnapshotRecord("s-d", vmId, "a",
                    null, null, false, false, 1, 256, null, t0, "x"))))
                    .as("a second snapshot named 'a' in the same VM")
                    .satisfies(e -> assertThat(e.getMessage().toLowerCase(java.util.Locale.ROOT)).contains("snapshots"));
            db.jdbi().useTransaction(h -> vms.delete(h, vmId));
            assertThat(snaps.count(vmId)).isZero();
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void duplicateNamesAreRefusedByTheSchema(String kind) {
        try (Database db = open(kind)) {
            new HostRepository(db.jdbi()).upsert(inventory("h1"), Instant.now());
            VmRepository vms = new VmRepository(db.jdbi());
            db.jdbi().useTransaction(h -> vms.insert(h, vm("00000000-0000-4000-8000-000000000002", "pacs", "h1")));
            assertThatThrownBy(() -> db.jdbi().useTransaction(h ->
                    vms.insert(h, vm("00000000-0000-4000-8000-000000000003", "pacs", "h1"))))
                    .hasMessageContaining("vms");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void auditRecordsKeepOrderAndValues(String kind) {
        try (Database db = open(kind)) {
            AuditLog audit = new AuditLog(db.jdbi());
            long first = audit.record(new AuditLog.Entry(Actor.user("anonymous", "127.0.0.1"), "vm.create", "vm", "v1",
                    "lab", null, Map.of("cpus", 1), null, AuditLog.Outcome.SUCCESS, null));
            long second = audit.record(new AuditLog.Entry(Actor.system("reconciler"), "vm.reconcile.start", "vm", "v1",
                    "lab", Map.of("state", "stopped"), Map.of("state", "running"), "desired running",
                    AuditLog.Outcome.FAILURE, null));
            assertThat(second).isEqualTo(first + 1);
            List<AuditRecord> records = audit.query("v1", 10);
            assertThat(records).extracting(AuditRecord::seq).containsExactly(second, first);
            assertThat(records.get(0).newValue()).contains("running");
            assertThat(records.get(0).outcome()).isEqualTo("failure");
            assertThat(records.get(1).clientAddress()).isEqualTo("127.0.0.1");
            assertThat(new AuditLog(db.jdbi()).record(new AuditLog.Entry(Actor.system("manager"), "manager.start",
                    "manager", null, null, null, null, null, AuditLog.Outcome.SUCCESS, null))).isEqualTo(second + 1);
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void tasksRunFailLockAndSurviveRestart(String kind) throws Exception {
        try (Database db = open(kind); TaskService tasks = new TaskService(db.jdbi())) {
            TaskRecord.Target target = new TaskRecord.Target("vm", "v1", "lab");
            TaskRecord ok = tasks.submit("vm.start", target, Actor.system("test"), "v1", ctx -> {
                ctx.progress(50, "halfway");
                // a phase longer than its column (a long VM or host name in it) is cut, never a failed task
                ctx.progress(60, "x".repeat(300));
                ctx.message("done well");
            });
            assertThat(tasks.await(ok.id(), Duration.ofSeconds(10))).satisfies(t -> {
                assertThat(t.state()).isEqualTo(TaskState.SUCCEEDED);
                assertThat(t.progress()).isEqualTo(100);
                assertThat(t.message()).isEqualTo("done well");
                assertThat(t.finishedAt()).isNotNull();
            });

            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            TaskRecord slow = tasks.submit("vm.stop", target, Actor.system("test"), "v1", ctx -> release.await());
            assertThatThrownBy(() -> tasks.submit("vm.start", target, Actor.system("test"), "v1", ctx -> { }))
                    .hasMessageContaining("busy with task " + slow.id());
            release.countDown();
            tasks.await(slow.id(), Duration.ofSeconds(10));
            // the lock is released before the task's end is recorded: whoever waited may go on at once
            assertThat(tasks.isLocked("v1")).isFalse();

            TaskRecord bad = tasks.submit("vm.start", target, Actor.system("test"), "v1", ctx -> {
                throw org.carevisor.manager.api.ApiException.conflict("vm-running", "it runs");
            });
            assertThat(tasks.await(bad.id(), Duration.ofSeconds(10)).error()).satisfies(e -> {
                assertThat(e.code()).isEqualTo("vm-running");
                assertThat(e.detail()).isEqualTo("it runs");
            });

            db.jdbi().useHandle(h -> h.execute("UPDATE tasks SET state = 'running', finished_at = NULL WHERE id = ?",
                    ok.id()));
            assertThat(tasks.failInterrupted()).isEqualTo(1);
            assertThat(tasks.get(ok.id()).error().code()).isEqualTo("manager-restarted");
            assertThat(tasks.list("v1", 10)).hasSize(3);
        }
    }
}
