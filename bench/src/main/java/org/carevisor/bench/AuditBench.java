package org.carevisor.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.alarm.Alarms;
import org.carevisor.manager.audit.AuditAnchor;
import org.carevisor.manager.audit.AuditCheckpoints;
import org.carevisor.manager.audit.AuditTrust;
import org.carevisor.manager.audit.CheckpointKey;
import org.carevisor.manager.audit.SyslogSink;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditVerifier;
import org.carevisor.manager.db.Database;
import org.carevisor.manager.db.Sql;

/**
 * The audit trail's speed on the embedded H2 database the manager uses by default (same URL, commits
 * written through):
 * <ol>
 *   <li>appends per second with hash chaining, each record in its own transaction like an API change:
 *       one writer, four writers, and four writers while a concurrent workload of VM operations runs on the
 *       same database (each operation: a task row, a VM state update and its own audit record, in one
 *       transaction, the pattern of the manager's power operations);</li>
 *   <li>the time to verify a chain of one million records (hashes, sequence, signed checkpoints).</li>
 * </ol>
 * Usage: AuditBench [seconds per rate case (default 10)] [records to verify (default 1000000)]
 */
public final class AuditBench {
    private AuditBench() {
    }

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int verifyRecords = args.length > 1 ? Integer.parseInt(args[1]) : 1_000_000;
        Path work = Files.createTempDirectory("carevisor-audit-bench");
        System.out.printf("Audit trail benchmark: H2 embedded (WRITE_DELAY=0), %d s per case, %d CPUs%n", seconds,
                Runtime.getRuntime().availableProcessors());
        List<String[]> rows = new ArrayList<>();
        AuditTrust trust = new AuditTrust(CheckpointKey.open(work.resolve("keys"), null),
                new AuditAnchor(work.resolve("audit/anchor.jsonl")), null);
        try (Database db = Database.open(Database.h2Url(work.resolve("rate")), null, null)) {
            AuditLog audit = new AuditLog(db.jdbi());
            rows.add(rate("1 writer", audit, db, 1, 0, seconds));
            rows.add(rate("4 writers", audit, db, 4, 0, seconds));
            rows.add(rate("4 writers + VM operations (2 threads)", audit, db, 4, 2, seconds));
            AuditVerifier.Result check = new AuditVerifier(audit, new AuditTrust(trust.key(),
                    new AuditAnchor(work.resolve("audit/rate.jsonl")), null)).verify();
            System.out.printf("  chain after the rate cases: %d records, first problem: %s%n", check.records(),
                    check.first() == null ? "none" : check.first());
        }
        System.out.println();
        System.out.println("| case | records appended | records/s |");
        System.out.println("|---|---|---|");
        for (String[] r : rows) {
            System.out.println("| " + r[0] + " | " + r[1] + " | " + r[2] + " |");
        }
        // verification of a long chain
        try (Database db = Database.open(Database.h2Url(work.resolve("verify")), null, null)) {
            AuditLog audit = new AuditLog(db.jdbi());
            long t0 = System.nanoTime();
            int batch = 2000;
            for (int done = 0; done < verifyRecords; done += batch) {
                int n = Math.min(batch, verifyRecords - done);
                int base = done;
                db.jdbi().useTransaction(h -> {
                    for (int i = 0; i < n; i++) {
                        audit.record(h, entry(base + i));
                    }
                });
                if ((done / batch) % 50 == 0) {
                    System.out.printf("  filling: %d records%n", done);
                }
            }
            double fill = (System.nanoTime() - t0) / 1e9;
            try (AuditCheckpoints c = new AuditCheckpoints(audit, trust, SyslogSink.parse("none"), new Alarms(),
                    () -> 3600)) {
                c.checkpoint();
            }
            AuditVerifier verifier = new AuditVerifier(audit, trust);
            AuditVerifier.Result first = verifier.verify();
            AuditVerifier.Result second = verifier.verify();
            System.out.println();
            System.out.printf("filled %d records in %.1f s (%.0f records/s in batches of %d)%n", verifyRecords, fill,
                    verifyRecords / fill, batch);
            System.out.printf("verify %d records: %.1f s (first run), %.1f s (second run); %s%n", first.records(),
                    first.millis() / 1000.0, second.millis() / 1000.0, second.summary());
        }
    }

    private static AuditLog.Entry entry(int i) {
        Actor a = new Actor(i % 3 == 0 ? "system:reconciler" : "alice", "10.20.0." + (i % 250), "u-" + (i % 7),
                i % 11 == 0 ? "CHG-" + i : null, null);
        return new AuditLog.Entry(a, "vm.update", "vm", "vm-" + (i % 100), "ehr-" + (i % 100),
                Map.of("memoryMiB", 1024, "cpus", 2), Map.of("memoryMiB", 2048, "cpus", 2), null,
                AuditLog.Outcome.SUCCESS, null);
    }

    /** Appends for {@code seconds} with {@code writers} threads (own transaction per record) and VM load. */
    private static String[] rate(String name, AuditLog audit, Database db, int writers, int vmThreads, int seconds)
            throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong appended = new AtomicLong();
        AtomicLong vmOps = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            int id = w;
            threads.add(Thread.ofPlatform().start(() -> {
                int i = id * 1_000_000;
                while (!stop.get()) {
                    audit.record(entry(i++));
                    appended.incrementAndGet();
                }
            }));
        }
        for (int v = 0; v < vmThreads; v++) {
            int id = v;
            threads.add(Thread.ofPlatform().start(() -> vmWorkload(db, audit, id, stop, vmOps)));
        }
        Thread.sleep(1000); // warm-up
        long a0 = appended.get();
        long v0 = vmOps.get();
        long t0 = System.nanoTime();
        Thread.sleep(seconds * 1000L);
        long a1 = appended.get();
        long v1 = vmOps.get();
        double dt = (System.nanoTime() - t0) / 1e9;
        stop.set(true);
        for (Thread t : threads) {
            t.join();
        }
        double perSecond = (a1 - a0) / dt;
        System.out.printf("  %s: %.0f records/s%s%n", name, perSecond, vmThreads == 0 ? ""
                : String.format(" (and %.0f VM operations/s, each with its own audit record)", (v1 - v0) / dt));
        return new String[] {name + (vmThreads == 0 ? "" : String.format(" (%.0f VM operations/s)", (v1 - v0) / dt)),
            Long.toString(a1 - a0), String.format("%.0f", perSecond)};
    }

    /** Simulated VM power operations: a task row, a VM row update and an audit record per transaction. */
    private static void vmWorkload(Database db, AuditLog audit, int id, AtomicBoolean stop, AtomicLong ops) {
        db.jdbi().useHandle(h -> h.execute("CREATE TABLE IF NOT EXISTS bench_vm_state (id VARCHAR(36) PRIMARY KEY,"
                + " state VARCHAR(16), changed_at TIMESTAMP WITH TIME ZONE)"));
        String vm = "bench-vm-" + id;
        db.jdbi().useHandle(h -> h.createUpdate("MERGE INTO bench_vm_state (id, state, changed_at) KEY (id) VALUES"
                + " (:id, 'stopped', :t)").bind("id", vm).bind("t", Sql.ts(Instant.now())).execute());
        boolean running = false;
        while (!stop.get()) {
            boolean next = !running;
            db.jdbi().useTransaction(h -> {
                h.createUpdate("UPDATE bench_vm_state SET state = :s, changed_at = :t WHERE id = :id")
                        .bind("s", next ? "running" : "stopped").bind("t", Sql.ts(Instant.now())).bind("id", vm)
                        .execute();
                audit.record(h, new AuditLog.Entry(Actor.system("reconciler"), next ? "vm.start" : "vm.stop", "vm", vm,
                        vm, Map.of("state", next ? "stopped" : "running"), Map.of("state", next ? "running" : "stopped"),
                        null, AuditLog.Outcome.SUCCESS, null));
            });
            running = next;
            ops.incrementAndGet();
        }
    }
}
