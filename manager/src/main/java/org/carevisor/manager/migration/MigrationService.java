package org.carevisor.manager.migration;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.cluster.ClusterRecord;
import org.carevisor.manager.cluster.ClusterRepository;
import org.carevisor.manager.host.AgentCallException;
import org.carevisor.manager.host.AgentClient;
import org.carevisor.manager.host.HostBoard;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.placement.PlacementService;
import org.carevisor.manager.task.TaskContext;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.vm.Lifecycle;
import org.carevisor.manager.vm.ObservedStore;
import org.carevisor.manager.vm.VmPowerService;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.manager.vm.VmService;
import org.carevisor.protocol.IncomingResponse;
import org.carevisor.protocol.MigrationFinish;
import org.carevisor.protocol.MigrationRequest;
import org.carevisor.protocol.MigrationStatus;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live migration of a VM between two hosts of its cluster, as a task:
 * <ol>
 *   <li>the scheduler chooses (or checks) the destination and reserves room on it;</li>
 *   <li>the destination agent starts QEMU paused, waiting for the stream ({@code preparing});</li>
 *   <li>the source copies memory while the guest runs on ({@code transferring}); the manager watches the
 *       progress, the destination, the timeout and cancel requests, and cancels the copy when one of them
 *       says so: the guest then simply runs on at the source;</li>
 *   <li>when the copy is complete the source's vCPUs are stopped; the destination is activated
 *       ({@code switching-over}) - <b>the point of no return</b>, see {@link #switchOver};</li>
 *   <li>the VM's record moves to the destination and the source QEMU ends ({@code handed-over},
 *       {@code completed}).</li>
 * </ol>
 * Every phase is written before it is entered, so a manager that stops half-way resolves the migration at
 * its next start ({@link #recover}). The guest never runs on two hosts: the source is resumed only when the
 * destination certainly did not run it. Thread-safe.
 */
public final class MigrationService {
    private static final Logger LOG = LoggerFactory.getLogger(MigrationService.class);
    private static final long MiB = 1L << 20;
    /** No bytes sent for this long: the network between the hosts is assumed broken and the copy cancelled. */
    static final Duration STALL_LIMIT = Duration.ofSeconds(20);
    /** How long the destination may take to take in the last of the stream and start the guest. */
    static final Duration ACTIVATE_WAIT = Duration.ofSeconds(30);
    /** How often the destination is checked during the copy. */
    static final Duration DEST_CHECK = Duration.ofMillis(1000);
    /**
     * How long a live migration of a VM whose QEMU started at {@code startedAt} waits before it begins: until the
     * QEMU has run {@code settle} (--migration-boot-settle-seconds). Guests migrated in their first seconds of boot
     * crashed on the destination (a kernel oops; QEMU 7.2 with TCG, also without Carevisor; see decisions.md).
     */
    static Duration bootSettleWait(Instant startedAt, Instant now, Duration settle) {
        if (startedAt == null) {
            return Duration.ZERO;
        }
        Duration ran = Duration.between(startedAt, now);
        if (ran.isNegative()) {
            ran = Duration.ZERO;
        }
        return ran.compareTo(settle) >= 0 ? Duration.ZERO : settle.minus(ran);
    }

    /** A migration request; every field is optional (the cluster's settings apply). */
    public record Request(String host, Integer bandwidthMiBps, Integer downtimeLimitMs, Boolean autoConverge,
                          String reason) {
    }

    /** What a migration will do, decided before its task starts. */
    public record Plan(VmRecord vm, String destHostId, String destHostName, int bandwidthMiBps, int downtimeLimitMs,
                       boolean autoConverge, int timeoutSeconds, boolean live) {
    }

    private final VmService vms;
    private final VmPowerService power;
    private final VmRepository vmRepo;
    private final MigrationRepository repo;
    private final PlacementService placement;
    private final ClusterRepository clusters;
    private final HostBoard board;
    private final HostRepository hosts;
    private final AgentClient agents;
    private final TaskService tasks;
    private final AuditLog audit;
    private final ObservedStore observed;
    private final MigrationTarget targets;
    private final Set<String> running = ConcurrentHashMap.newKeySet();
    private final Map<String, Semaphore> slots = new ConcurrentHashMap<>();
    private final Duration bootSettle;

    public MigrationService(VmService vms, VmPowerService power, VmRepository vmRepo, MigrationRepository repo,
                            PlacementService placement, ClusterRepository clusters, HostBoard board,
                            HostRepository hosts, AgentClient agents, TaskService tasks, AuditLog audit,
                            ObservedStore observed, Duration bootSettle) {
        this.vms = vms;
        this.power = power;
        this.vmRepo = vmRepo;
        this.repo = repo;
        this.placement = placement;
        this.clusters = clusters;
        this.board = board;
        this.hosts = hosts;
        this.agents = agents;
        this.tasks = tasks;
        this.audit = audit;
        this.observed = observed;
        this.targets = new MigrationTarget(hosts);
        this.bootSettle = bootSettle;
    }

    public MigrationRepository repository() {
        return repo;
    }

    /**
     * Checks the request and reserves the destination; refuses (nothing changes) a VM on local storage, a VM
     * that is starting or stopping, and a destination the scheduler refuses (no room, maintenance, another
     * cluster, a must rule), naming the reason.
     */
    public Plan plan(String vmRef, Request r) {
        VmRecord vm = vms.get(vmRef);
        Lifecycle.requireReady(vm, "migrate");
        if (vm.onLocalStorage()) {
            throw ApiException.conflict("local-storage", "VM '" + vm.name() + "' has its disks on the local storage"
                    + " of its host, which other hosts cannot reach; it cannot be migrated (export and import it, or"
                    + " recreate it on shared storage)");
        }
        ClusterRecord cluster = clusters.find(vm.clusterId()).orElseThrow();
        java.util.List<ApiException.FieldError> errors = new java.util.ArrayList<>();
        if (r.bandwidthMiBps() != null && (r.bandwidthMiBps() < 1 || r.bandwidthMiBps() > 100_000)) {
            errors.add(new ApiException.FieldError("bandwidthMiBps", "must be between 1 and 100000"));
        }
        if (r.downtimeLimitMs() != null && (r.downtimeLimitMs() < 10 || r.downtimeLimitMs() > 10_000)) {
            errors.add(new ApiException.FieldError("downtimeLimitMs", "must be between 10 and 10000"));
        }
        if (r.reason() != null && r.reason().length() > 2000) {
            errors.add(new ApiException.FieldError("reason", "must be at most 2000 characters"));
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        VmState state = power.observedState(vm);
        if (state == VmState.UNKNOWN) {
            power.connectedEndpoint(vm); // 503 naming the silent host
        }
        boolean live = state.hasProcess();
        if (live && state != VmState.RUNNING && state != VmState.PAUSED) {
            throw ApiException.conflict("vm-busy", "VM '" + vm.name() + "' is " + state.json()
                    + "; migrate it when it is running, paused or stopped");
        }
        String explicit = r.host() == null ? null : placement.host(r.host()).id();
        if (explicit != null && explicit.equals(vm.hostId())) {
            throw ApiException.conflict("same-host", "VM '" + vm.name() + "' is on host " + r.host() + " already");
        }
        var verdict = placement.reserve(PlacementService.Subject.of(vm), PlacementService.Purpose.MIGRATE, explicit);
        return new Plan(vm, verdict.hostId(), verdict.hostName(),
                r.bandwidthMiBps() != null ? r.bandwidthMiBps() : cluster.migration().bandwidthMiBps(),
                r.downtimeLimitMs() != null ? r.downtimeLimitMs() : cluster.migration().downtimeLimitMs(),
                r.autoConverge() != null ? r.autoConverge() : cluster.migration().autoConverge(),
                cluster.migration().timeoutSeconds(), live);
    }

    /** Plans and starts the migration as a task ({@code purpose}: operator, maintenance, balancer). */
    public TaskRecord migrate(String vmRef, Request r, Actor actor, String purpose) {
        Plan plan = plan(vmRef, r);
        try {
            return tasks.submit("vm.migrate", VmService.target(plan.vm()), actor, plan.vm().id(), ctx -> {
                try {
                    run(ctx, plan, actor, purpose, r.reason());
                } finally {
                    placement.release(plan.vm().id());
                }
            });
        } catch (RuntimeException e) {
            placement.release(plan.vm().id());
            throw e;
        }
    }

    private void run(TaskContext ctx, Plan plan, Actor actor, String purpose, String reason) throws Exception {
        if (!plan.live()) {
            moveStopped(ctx, plan, actor, reason);
            return;
        }
        ctx.cancellable();
        awaitBootSettled(ctx, plan.vm()); // before taking a slot: a booting VM must not hold up the others
        Semaphore slot = slots.computeIfAbsent(plan.vm().clusterId(), k -> new Semaphore(
                clusters.find(k).map(c -> c.migration().maxParallel()).orElse(2)));
        if (!slot.tryAcquire()) {
            ctx.progress(1, "waiting for a free migration slot of the cluster");
            while (!slot.tryAcquire(500, TimeUnit.MILLISECONDS)) {
                if (ctx.cancelRequested()) {
                    throw ApiException.conflict("migration-cancelled", "cancelled before it began");
                }
            }
        }
        try {
            runLive(ctx, plan, actor, purpose, reason);
        } finally {
            slot.release();
        }
    }

    /** Waits (cancellable) until the VM's QEMU has run the boot settle time. */
    private void awaitBootSettled(TaskContext ctx, VmRecord vm) throws InterruptedException {
        while (true) {
            Instant startedAt = observed.get(vm.id()).map(o -> o.status().startedAt()).orElse(null);
            Duration wait = bootSettleWait(startedAt, Instant.now(), bootSettle);
            if (wait.isZero()) {
                return;
            }
            if (ctx.cancelRequested()) {
                throw ApiException.conflict("migration-cancelled", "cancelled before it began");
            }
            // the phase holds at most 128 characters: no VM name here (up to 63 of them)
            ctx.progress(1, "waiting " + Math.max(1, wait.toSeconds()) + " s: the VM started "
                    + Math.max(0, Duration.between(startedAt, Instant.now()).toSeconds()) + " s ago; a live migration"
                    + " begins once it has run " + bootSettle.toSeconds() + " s");
            Thread.sleep(Math.min(500, Math.max(1, wait.toMillis())));
        }
    }

    /** A stopped VM only changes hosts in the record (its disks are on the shared storage). */
    private void moveStopped(TaskContext ctx, Plan plan, Actor actor, String reason) {
        VmRecord vm = plan.vm();
        vmRepo.jdbi().useTransaction(h -> {
            vmRepo.setHost(h, vm.id(), plan.destHostId(), false);
            audit.record(h, new AuditLog.Entry(actor, "vm.migrate", "vm", vm.id(), vm.name(),
                    Map.of("host", hostName(vm.hostId())), Map.of("host", plan.destHostName(), "live", false),
                    reason, Outcome.SUCCESS, ctx.taskId()));
        });
        ctx.message("VM " + vm.name() + " is stopped; it now belongs to host " + plan.destHostName()
                + " and starts there");
    }

    private void runLive(TaskContext ctx, Plan plan, Actor actor, String purpose, String reason) throws Exception {
        VmRecord vm = vmRepo.find(plan.vm().id()).orElseThrow();
        String srcName = hostName(vm.hostId());
        String src = power.connectedEndpoint(vm);
        String dst = endpoint(plan.destHostId());
        VmState before = power.observedState(vm);
        MigrationRecord m = new MigrationRecord(UUID.randomUUID().toString(), vm.id(), vm.name(), vm.hostId(),
                plan.destHostId(), MigrationRecord.PREPARING, purpose, ctx.taskId(), actor.name(), null,
                plan.bandwidthMiBps(), plan.downtimeLimitMs(), plan.autoConverge(), Instant.now(), null, null, null,
                null, null, null);
        repo.insert(m);
        running.add(m.id());
        try {
            ctx.progress(2, "starting the destination QEMU on " + plan.destHostName());
            IncomingResponse in;
            try {
                in = agents.incoming(dst, vm.toSpec(), vm.hostId());
            } catch (AgentCallException e) {
                throw fail(m, vm, actor, ctx, null, "the destination " + plan.destHostName() + " could not prepare: "
                        + e.getMessage(), false, reason);
            }
            String uri;
            String tlsHostname;
            try {
                uri = targets.sourceUri(plan.destHostId(), plan.destHostName(), in);
                tlsHostname = targets.tlsHostname(plan.destHostId(), plan.destHostName());
            } catch (ApiException e) {
                abortDestination(dst, vm);
                audit.record(new AuditLog.Entry(actor, "vm.migrate-uri", "host", plan.destHostId(),
                        plan.destHostName(), null, java.util.Collections.singletonMap("answered", in == null ? null
                        : org.carevisor.manager.security.Clip.text(in.uri(), 300)), e.getMessage(), Outcome.REFUSED,
                        ctx.taskId()));
                ApiException f = fail(m, vm, actor, ctx, null, e.getMessage(), false, reason);
                throw new ApiException(e.status(), e.code(), e.title(), f.getMessage(), null);
            }
            repo.incomingUri(m.id(), uri);
            repo.phase(m.id(), MigrationRecord.TRANSFERRING);
            MigrationStatus st;
            try {
                st = agents.migrate(src, vm.id(), new MigrationRequest(uri, plan.bandwidthMiBps() * MiB,
                        plan.downtimeLimitMs(), plan.autoConverge(), tlsHostname));
            } catch (AgentCallException e) {
                abortDestination(dst, vm);
                throw fail(m, vm, actor, ctx, null, "the source " + srcName + " could not begin the copy: "
                        + e.getMessage(), false, reason);
            }
            String stop = null;
            boolean cancelled = false;
            long deadline = System.nanoTime() + Duration.ofSeconds(plan.timeoutSeconds()).toNanos();
            long lastBytes = -1;
            long lastProgress = System.nanoTime();
            long nextDestCheck = System.nanoTime() + DEST_CHECK.toNanos();
            int destSilent = 0;
            while (!st.finished()) {
                if (stop == null) {
                    if (ctx.cancelRequested()) {
                        stop = "cancelled by request";
                        cancelled = true;
                    } else if (System.nanoTime() > deadline) {
                        stop = "it took longer than the cluster's limit of " + plan.timeoutSeconds() + " s"
                                + " (the guest changes its memory faster than it can be sent; raise the bandwidth or"
                                + " the downtime limit, or turn on auto-converge)";
                    } else if (System.nanoTime() - lastProgress > STALL_LIMIT.toNanos()) {
                        stop = "no data reached the destination for " + STALL_LIMIT.toSeconds()
                                + " s (is the network between the hosts broken?)";
                    } else if (System.nanoTime() > nextDestCheck) {
                        nextDestCheck = System.nanoTime() + DEST_CHECK.toNanos();
                        String problem = destinationProblem(dst, vm.id());
                        destSilent = problem == null ? 0 : destSilent + 1;
                        if (problem != null && (destSilent >= 2 || !problem.startsWith("agent"))) {
                            stop = "the destination " + plan.destHostName() + " failed: " + problem;
                        }
                    }
                    if (stop != null) {
                        LOG.warn("migration of VM {} to {}: cancelling, {}", vm.name(), plan.destHostName(), stop);
                        try {
                            agents.cancelMigration(src, vm.id());
                        } catch (AgentCallException e) {
                            LOG.warn("cancelling the migration of VM {} failed: {}", vm.name(), e.getMessage());
                        }
                    }
                }
                if (st.transferredBytes() != lastBytes) {
                    lastBytes = st.transferredBytes();
                    lastProgress = System.nanoTime();
                }
                ctx.progress(progress(st), describe(st, plan.destHostName()));
                st = agents.migrationStatus(src, vm.id(), 500, st.status());
            }
            if (!"completed".equals(st.status())) {
                abortDestination(dst, vm);
                resumeSource(src, vm);
                String why = stop != null ? stop : "QEMU reported " + st.status()
                        + (st.error() == null ? "" : ": " + st.error());
                throw fail(m, vm, actor, ctx, st, why, cancelled, reason);
            }
            // the guest is paused now: activate the destination first, book-keeping afterwards
            VmStatus destStatus = switchOver(m, vm, src, dst, before == VmState.RUNNING, actor, ctx, st, reason);
            repo.figures(m.id(), st.downtimeMs(), st.totalTimeMs(), st.transferredBytes(), st.passes());
            ctx.progress(97, "running on " + plan.destHostName() + "; handing over");
            handOver(m, vm, plan.destHostId(), destStatus, actor, ctx.taskId(), st, reason);
            finishSource(m, src, vm);
            ctx.message("VM " + vm.name() + " moved live from " + srcName + " to " + plan.destHostName() + " in "
                    + seconds(st.totalTimeMs()) + "; guest paused " + st.downtimeMs() + " ms (QEMU), " + st.passes()
                    + " passes, " + (st.transferredBytes() / MiB) + " MiB sent");
        } finally {
            running.remove(m.id());
        }
    }

    /**
     * Activates the destination. <b>This is the point of no return.</b> Until the destination's {@code cont}
     * has happened, the guest has never run there (QEMU was started with {@code -S} and the disks'
     * write locks are taken only at activation), so the source can always be resumed. Once it has happened,
     * the guest lives on the destination and the source must never run it again. When the answer is lost
     * (the call may or may not have reached the destination) the migration is {@code in-doubt}: nothing is
     * resumed until the destination tells which it is.
     */
    private VmStatus switchOver(MigrationRecord m, VmRecord vm, String src, String dst, boolean run, Actor actor,
                                TaskContext ctx, MigrationStatus st, String reason) {
        repo.phase(m.id(), MigrationRecord.SWITCHING_OVER);
        try {
            return agents.activate(dst, vm.id(), run, ACTIVATE_WAIT.toMillis()); // <- point of no return
        } catch (AgentCallException e) {
            boolean definite = !e.mayHaveArrived() || e.status() == 409 || e.status() == 404 || e.status() == 400;
            if (definite) {
                abortDestination(dst, vm);
                resumeSource(src, vm);
                throw fail(m, vm, actor, ctx, st, "the destination did not take over (" + e.getMessage()
                        + "); the VM goes on on the source", false, reason);
            }
            repo.phase(m.id(), MigrationRecord.IN_DOUBT);
            audit.record(new AuditLog.Entry(actor, "vm.migrate", "vm", vm.id(), vm.name(),
                    Map.of("host", hostName(vm.hostId())), Map.of("host", hostName(m.destHostId())),
                    "in doubt: " + e.getMessage(), Outcome.FAILURE, ctx.taskId()));
            throw new ApiException(502, "migration-in-doubt", "Migration outcome unknown", "the destination "
                    + hostName(m.destHostId()) + " did not answer the activation (" + e.getMessage() + "); the"
                    + " manager resolves the migration as soon as it reaches that host, and the guest runs on at"
                    + " most one host", null);
        }
    }

    /** The guest runs on the destination: the record moves there (audited) and the observed state follows. */
    private void handOver(MigrationRecord m, VmRecord vm, String destHostId, VmStatus destStatus, Actor actor,
                          String taskId, MigrationStatus st, String reason) {
        Map<String, Object> after = new LinkedHashMap<>();
        after.put("host", hostName(destHostId));
        if (st != null) {
            after.put("downtimeMs", st.downtimeMs());
            after.put("totalMs", st.totalTimeMs());
            after.put("transferredMiB", st.transferredBytes() / MiB);
            after.put("passes", st.passes());
        }
        vmRepo.jdbi().useTransaction(h -> {
            vmRepo.setHost(h, vm.id(), destHostId, true);
            repo.phase(h, m.id(), MigrationRecord.HANDED_OVER);
            audit.record(h, new AuditLog.Entry(actor, "vm.migrate", "vm", vm.id(), vm.name(),
                    Map.of("host", hostName(m.sourceHostId())), after, reason, Outcome.SUCCESS, taskId));
        });
        if (destStatus != null) {
            observed.put(destHostId, destStatus);
        }
        LOG.info("VM {} handed over from {} to {}", vm.name(), hostName(m.sourceHostId()), hostName(destHostId));
    }

    /** Ends the source QEMU after a hand-over; when that fails the recovery loop tries again. */
    private void finishSource(MigrationRecord m, String src, VmRecord vm) {
        try {
            agents.finishMigration(src, vm.id(), MigrationFinish.HANDED_OVER);
            vmRepo.jdbi().useTransaction(h -> repo.finish(h, m.id(), MigrationRecord.COMPLETED, null, null, null,
                    null, null));
        } catch (AgentCallException e) {
            LOG.warn("VM {} runs on the destination, but its source QEMU could not be ended yet: {}", vm.name(),
                    e.getMessage());
        }
    }

    private ApiException fail(MigrationRecord m, VmRecord vm, Actor actor, TaskContext ctx, MigrationStatus st,
                              String why, boolean cancelled, String reason) {
        String phase = cancelled ? MigrationRecord.CANCELLED : MigrationRecord.FAILED;
        vmRepo.jdbi().useTransaction(h -> {
            repo.finish(h, m.id(), phase, st == null ? null : st.downtimeMs(), st == null ? null : st.totalTimeMs(),
                    st == null ? null : st.transferredBytes(), st == null ? null : st.passes(), why);
            audit.record(h, new AuditLog.Entry(actor, "vm.migrate", "vm", vm.id(), vm.name(),
                    Map.of("host", hostName(m.sourceHostId())), Map.of("host", hostName(m.sourceHostId())),
                    (reason == null ? "" : reason + "; ") + (cancelled ? "cancelled: " : "failed: ") + why,
                    cancelled ? Outcome.REFUSED : Outcome.FAILURE, ctx.taskId()));
        });
        LOG.warn("migration of VM {} {}: {}", vm.name(), phase, why);
        return ApiException.conflict(cancelled ? "migration-cancelled" : "migration-failed", "VM '" + vm.name()
                + "' stays on " + hostName(m.sourceHostId()) + ": " + why);
    }

    /** Null when the destination waits as it should, else what is wrong (prefix "agent" when it is silent). */
    private String destinationProblem(String dst, String vmId) {
        try {
            VmStatus s = agents.status(dst, vmId);
            if (s == null) {
                return "the destination no longer knows the VM";
            }
            return s.state() == VmState.INCOMING ? null : "its QEMU is " + s.state().json() + " (" + s.reason() + ")";
        } catch (AgentCallException e) {
            return "agent not reachable: " + e.getMessage();
        }
    }

    private void abortDestination(String dst, VmRecord vm) {
        try {
            agents.abortIncoming(dst, vm.id());
        } catch (AgentCallException e) {
            LOG.info("destination of VM {} could not be told to stop ({}); its QEMU ends by itself when the stream"
                    + " breaks, and a stray one is ended when its agent reports it", vm.name(), e.getMessage());
        }
    }

    private void resumeSource(String src, VmRecord vm) {
        try {
            observed.put(vm.hostId(), agents.finishMigration(src, vm.id(), MigrationFinish.RESUME));
        } catch (AgentCallException e) {
            LOG.warn("VM {}: could not confirm that it goes on on its source: {}", vm.name(), e.getMessage());
        }
    }

    /**
     * Resolves migrations that no task of this manager runs (the manager stopped half-way), and ends stray
     * destination QEMUs that no migration waits for. Called periodically.
     */
    public void recover() {
        for (MigrationRecord m : repo.open()) {
            if (running.contains(m.id())) {
                continue;
            }
            try {
                resolve(m);
            } catch (RuntimeException e) {
                LOG.warn("migration {} of VM {} ({}) cannot be resolved yet: {}", m.id(), m.vmName(), m.phase(),
                        e.getMessage());
            }
        }
        endStrayDestinations();
    }

    private void resolve(MigrationRecord m) {
        VmRecord vm = vmRepo.find(m.vmId()).orElse(null);
        Actor actor = Actor.system("migration-recovery");
        String src = endpointOrNull(m.sourceHostId());
        String dst = endpointOrNull(m.destHostId());
        if (vm == null) {
            vmRepo.jdbi().useTransaction(h -> repo.finish(h, m.id(), MigrationRecord.FAILED, null, null, null, null,
                    "the VM was deleted"));
            return;
        }
        switch (m.phase()) {
            case MigrationRecord.PREPARING, MigrationRecord.TRANSFERRING -> {
                // the guest never ran on the destination: cancel the copy, keep the source
                if (src == null) {
                    return; // wait until the source reports
                }
                if (dst != null) {
                    abortDestination(dst, vm);
                }
                resumeSource(src, vm);
                vmRepo.jdbi().useTransaction(h -> {
                    repo.finish(h, m.id(), MigrationRecord.FAILED, null, null, null, null,
                            "the manager stopped during the copy; the VM goes on on the source");
                    audit.record(h, new AuditLog.Entry(actor, "vm.migrate", "vm", vm.id(), vm.name(), null,
                            Map.of("host", hostName(m.sourceHostId())), "rolled back after a manager restart",
                            Outcome.FAILURE, null));
                });
            }
            case MigrationRecord.SWITCHING_OVER, MigrationRecord.IN_DOUBT -> {
                if (dst == null) {
                    return; // only the destination can tell whether the guest runs there
                }
                VmStatus d = agents.status(dst, vm.id());
                if (d != null && (d.state() == VmState.RUNNING || d.state() == VmState.PAUSED)) {
                    handOver(m, vm, m.destHostId(), d, actor, null, null, "resolved: the guest runs on the destination");
                    if (src != null) {
                        finishSource(m, src, vm);
                    }
                } else if (src != null) {
                    if (d != null && d.state() == VmState.INCOMING) {
                        agents.abortIncoming(dst, vm.id());
                    }
                    resumeSource(src, vm);
                    vmRepo.jdbi().useTransaction(h -> {
                        repo.finish(h, m.id(), MigrationRecord.FAILED, null, null, null, null,
                                "resolved: the destination never ran the guest; it goes on on the source");
                        audit.record(h, new AuditLog.Entry(actor, "vm.migrate", "vm", vm.id(), vm.name(), null,
                                Map.of("host", hostName(m.sourceHostId())),
                                "resolved: the destination never ran the guest", Outcome.FAILURE, null));
                    });
                }
            }
            case MigrationRecord.HANDED_OVER -> {
                if (src != null) {
                    finishSource(m, src, vm);
                }
            }
            default -> LOG.warn("migration {} in unknown phase {}", m.id(), m.phase());
        }
    }

    /** Destination QEMUs (state incoming) that no open migration waits for are ended. */
    private void endStrayDestinations() {
        Set<String> waiting = ConcurrentHashMap.newKeySet();
        repo.open().forEach(m -> waiting.add(m.vmId() + "@" + m.destHostId()));
        for (HostBoard.Entry e : board.connectedHosts()) {
            for (VmStatus s : e.report().vms()) {
                String key = s.vmId() + "@" + e.inventory().hostId();
                if (s.state() == VmState.INCOMING && !waiting.contains(key)
                        && s.since() != null && s.since().isBefore(Instant.now().minusSeconds(10))) {
                    LOG.info("ending a stray migration destination of VM {} on host {}", s.vmId(),
                            e.inventory().hostname());
                    try {
                        agents.abortIncoming(e.inventory().endpoint(), s.vmId());
                    } catch (AgentCallException ex) {
                        LOG.warn("cannot end the stray destination: {}", ex.getMessage());
                    }
                }
            }
        }
    }

    /** Recent migrations, newest first. */
    public List<MigrationRecord> list(String vmRef, int limit) {
        return repo.list(vmRef == null ? null : vms.get(vmRef).id(), limit);
    }

    /** Newest first, of the VMs in {@code scopes}, filtered in SQL before the limit (see MigrationRepository). */
    public List<MigrationRecord> list(String vmId, org.carevisor.manager.auth.ScopeFilter scopes, int limit,
                                      int offset) {
        return repo.list(vmId, scopes, limit, offset);
    }

    private String endpoint(String hostId) {
        if (!board.connected(hostId)) {
            throw ApiException.unavailable("host-unavailable", "host " + hostName(hostId) + " is not reporting");
        }
        return board.get(hostId).orElseThrow().inventory().endpoint();
    }

    private String endpointOrNull(String hostId) {
        return board.connected(hostId) ? board.get(hostId).orElseThrow().inventory().endpoint() : null;
    }

    private String hostName(String hostId) {
        if (hostId == null) {
            return "none";
        }
        return board.get(hostId).map(e -> e.inventory().hostname())
                .or(() -> hosts.find(hostId).map(h -> h.name())).orElse(hostId);
    }

    static int progress(MigrationStatus st) {
        if (st.totalBytes() <= 0) {
            return 5;
        }
        double sent = Math.min(1.0, (double) st.transferredBytes() / st.totalBytes());
        return 5 + (int) (85 * sent);
    }

    static String describe(MigrationStatus st, String dest) {
        StringBuilder s = new StringBuilder("copying memory to ").append(dest).append(": ")
                .append(st.transferredBytes() / MiB).append(" MiB sent, ").append(st.remainingBytes() / MiB)
                .append(" MiB to go, pass ").append(Math.max(1, st.passes()));
        if (st.dirtyPagesRate() > 0) {
            s.append(", guest dirties ").append(st.dirtyPagesRate() * 4096 / MiB).append(" MiB/s");
        }
        if (st.expectedDowntimeMs() != null) {
            s.append(", expected pause ").append(st.expectedDowntimeMs()).append(" ms");
        }
        if (st.throttlePercent() > 0) {
            s.append(", vCPUs throttled ").append(st.throttlePercent()).append('%');
        }
        return s.toString();
    }

    private static String seconds(Long ms) {
        return ms == null ? "?" : String.format(java.util.Locale.ROOT, "%.1f s", ms / 1000.0);
    }
}
