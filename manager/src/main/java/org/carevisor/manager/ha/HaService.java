package org.carevisor.manager.ha;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.ha.HaEngine.Decision;
import org.carevisor.manager.ha.fence.FenceAgent;
import org.carevisor.manager.host.AgentClient;
import org.carevisor.manager.host.HostBoard;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.placement.PlacementService;
import org.carevisor.manager.placement.Scheduler;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.vm.Lifecycle;
import org.carevisor.manager.vm.ObservedStore;
import org.carevisor.manager.vm.PowerState;
import org.carevisor.manager.vm.VmPowerService;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.ProtocolJson;
import org.carevisor.protocol.ReportAck;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * High availability in the manager: feeds the {@link HaEngine} with the agents' heartbeats and the storage
 * leases they see - only what the leases' owners signed, checked by {@link LeaseIntake} against each host's
 * certificate ({@link HostKeys}); a lease that counts for nothing is audited as {@code ha.lease-refused} once per
 * episode, naming the reporting host -, evaluates it every second and carries out its decisions: fencing through the host's fence
 * agent, restarting VMs on other hosts, stopping VMs that run where they no longer belong, resetting guests that
 * fail their health check. Every decision and every attempt is audited as {@code system:ha}. The engine's
 * durable state is saved after each change, so a manager restarted during a recovery finishes it without
 * starting a VM twice. Thread-safe: the engine is used under one lock; actions run outside it.
 */
public final class HaService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HaService.class);
    private static final Actor ACTOR = Actor.system("ha");
    private static final Duration FENCE_TIMEOUT = Duration.ofSeconds(20);
    private static final int RECENT = 200;

    private final HaRepository repo;
    private final VmRepository vms;
    private final HostRepository hosts;
    private final HostBoard board;
    private final ObservedStore observed;
    private final AgentClient agents;
    private final VmPowerService power;
    private final PlacementService placement;
    private final TaskService tasks;
    private final AuditLog audit;
    private final HaEngine engine = new HaEngine(HaEngine.Config.defaults());
    private final Object lock = new Object();
    private final ExecutorService work = Executors.newVirtualThreadPerTaskExecutor();
    private final Set<String> fencing = ConcurrentHashMap.newKeySet();
    private final HealthChecks health;
    private final Deque<Map<String, Object>> recent = new ArrayDeque<>();
    private volatile Map<String, VmHa> settings = Map.of();
    private HaEngine.Snapshot saved;
    private Instant savedAt;
    private final LeaseIntake intake;
    /** Refusals of the lease intake, audited after the lock is released. Guarded by lock. */
    private final List<LeaseIntake.Refusal> refusals = new ArrayList<>();

    public HaService(HaRepository repo, VmRepository vms, HostRepository hosts, HostBoard board, ObservedStore observed,
                     AgentClient agents, VmPowerService power, PlacementService placement, TaskService tasks,
                     AuditLog audit) {
        this.repo = repo;
        this.vms = vms;
        this.hosts = hosts;
        this.board = board;
        this.observed = observed;
        this.agents = agents;
        this.power = power;
        this.placement = placement;
        this.tasks = tasks;
        this.audit = audit;
        this.health = new HealthChecks(work);
        HostKeys keys = new HostKeys(hosts.jdbi());
        this.intake = new LeaseIntake(new LeaseIntake.Keys() {
            @Override
            public Optional<HostKeys.HostKey> of(String hostId) {
                return keys.of(hostId);
            }

            @Override
            public Optional<HostKeys.HostKey> fresh(String hostId) {
                return keys.fresh(hostId);
            }
        }, this::run, refusals::add);
        engine.placer(this::place);
    }

    /** When the run of {@code vmId} last observed on {@code hostId} started (epoch ms). */
    private OptionalLong run(String vmId, String hostId) {
        return observed.get(vmId).filter(o -> hostId.equals(o.hostId()) && o.status().startedAt() != null)
                .map(o -> OptionalLong.of(o.status().startedAt().toEpochMilli())).orElse(OptionalLong.empty());
    }

    /** Audits the lease refusals collected under the lock. */
    private void auditRefusals(List<LeaseIntake.Refusal> list) {
        for (LeaseIntake.Refusal r : list) {
            try {
                String reporter = hostName(r.reporter());
                String named = r.named() == null ? null : hostName(r.named());
                String what = "the storage lease " + (named == null ? "" : "of host " + named + " ") + "reported by host "
                        + reporter + " counts for nothing (" + r.code() + "): " + r.detail() + "; until such leases stop"
                        + " for " + LeaseIntake.QUIET.toSeconds() + " s, repeats are not audited";
                LOG.warn("HA: {}", what);
                audit.record(new AuditLog.Entry(Actor.agent(reporter), "ha.lease-refused", "host", r.named(), named,
                        null, null, what, Outcome.REFUSED, null));
            } catch (RuntimeException e) {
                LOG.error("HA: cannot audit a refused lease ({})", r, e);
            }
        }
    }

    private List<LeaseIntake.Refusal> drainRefusals() {
        List<LeaseIntake.Refusal> out = List.copyOf(refusals);
        refusals.clear();
        return out;
    }

    private volatile boolean labMode;
    private final Instant clockBase = Instant.now();
    private final long clockNanos = System.nanoTime();

    /**
     * The engine's clock: the wall clock when the service was made, advanced by the monotonic clock, so that a step
     * of the wall clock (NTP) changes no HA timing - not the heartbeat and lease timeouts, nor the bound on lease
     * counters.
     */
    private Instant clock() {
        return clockBase.plusNanos(System.nanoTime() - clockNanos);
    }

    /**
     * How long after the manager starts a host not heard from yet is waited for before it is suspected (see {@link
     * HaEngine#bootWindow}); set before {@link #start}.
     */
    public void bootWindow(java.time.Duration window) {
        synchronized (lock) {
            engine.bootWindow(window);
        }
    }

    /** In lab mode the {@code lab} fence agent may be used (see {@code ManagerConfig.labMode}). */
    public void labMode(boolean on) {
        this.labMode = on;
    }

    /**
     * Restores the engine's durable state. The evaluation ({@link #tick}) then runs every second as the job
     * {@code ha-evaluation} of the manager's {@link org.carevisor.manager.jobs.JobSupervisor}, which survives any
     * failure of a pass and raises an alarm when HA stops deciding.
     */
    public void start() {
        Instant now = clock();
        synchronized (lock) {
            repo.engineState().ifPresent(json -> {
                try {
                    engine.restore(ProtocolJson.mapper().readValue(json, HaEngine.Snapshot.class), now);
                } catch (java.io.IOException e) {
                    LOG.error("the saved HA state cannot be read; starting from the hosts' reports only", e);
                }
            });
            sync(now);
            // HA VMs that should run are expected on their hosts: one that died while no manager watched is lost
            settings.forEach((id, ha) -> engine.expectRunning(id));
            saved = engine.snapshot();
            savedAt = now;
        }
    }

    // ---- inputs

    /** A host's heartbeat: its VMs and the leases it sees. Returns what the agent must know for HA. */
    public ReportAck report(HostReport report) {
        String hostId = report.inventory().hostId();
        Instant now = clock();
        List<Decision> decisions;
        List<LeaseIntake.Refusal> refused;
        synchronized (lock) {
            sync(now);
            intake.accept(hostId, report.leases(), engine, now);
            decisions = engine.heartbeat(hostId, held(hostId, report), stoppedInOrder(report), now);
            refused = drainRefusals();
        }
        auditRefusals(refused);
        carryOut(decisions);
        return ack(hostId);
    }

    /**
     * The VMs a host holds: those with a QEMU process (a VM waiting for an incoming migration does not count:
     * its guest has not run there, nor does one arriving by a migration still under way), and those assigned to
     * it that a task is working on (a start, a revert, a migration).
     */
    private Set<String> held(String hostId, HostReport report) {
        Set<String> assigned = new HashSet<>();
        Set<String> out = new HashSet<>();
        for (VmRecord vm : vms.onHost(hostId)) {
            assigned.add(vm.id());
            if (tasks.isLocked(vm.id())) {
                out.add(vm.id());
            }
        }
        for (VmStatus s : report.vms()) {
            // a VM another host is assigned and a task works on (a live migration arriving here) is the task's
            if (s.state().hasProcess() && s.state() != VmState.INCOMING
                    && (assigned.contains(s.vmId()) || !tasks.isLocked(s.vmId()))) {
                out.add(s.vmId());
            }
        }
        return out;
    }

    /** The VMs the host reports stopped because it was shut down in order (site or host shutdown). */
    private static Set<String> stoppedInOrder(HostReport report) {
        Set<String> out = new HashSet<>();
        for (VmStatus s : report.vms()) {
            if (!s.state().hasProcess() && s.cause() == org.carevisor.protocol.StopCause.HOST_SHUTDOWN) {
                out.add(s.vmId());
            }
        }
        return out;
    }

    private ReportAck ack(String hostId) {
        Map<String, VmHa> s = settings;
        List<String> protectedHere = vms.onHost(hostId).stream().filter(v -> s.containsKey(v.id())
                && s.get(v.id()).enabled()).map(VmRecord::id).sorted().toList();
        String cluster = hosts.find(hostId).map(HostRecord::clusterId).orElse(null);
        List<String> peers = cluster == null ? List.of() : hosts.inCluster(cluster).stream().map(HostRecord::id)
                .filter(id -> !id.equals(hostId)).sorted().toList();
        return new ReportAck(protectedHere, cluster == null ? ReportAck.POWER_OFF
                : repo.cluster(cluster).isolationResponse(), peers);
    }

    /**
     * True when the VM is HA-protected (for admission control and the reconcile loop). Read from the database,
     * not from the copy the engine was last fed with, so a setting changed a moment ago already counts.
     */
    public boolean protectedVm(String vmId) {
        return repo.vm(vmId).map(VmHa::enabled).orElse(false);
    }

    private volatile java.util.function.Supplier<Set<String>> poweredOff = Set::of;

    /**
     * The hosts an orderly site shutdown switched off and that have not reported since: left alone (not suspected,
     * fenced or declared dead), whatever HA VMs are assigned to them.
     */
    public void poweredOffHosts(java.util.function.Supplier<Set<String>> hosts) {
        this.poweredOff = hosts;
    }

    /** Reads hosts, VMs and settings into the engine. Caller holds the lock. */
    private void sync(Instant now) {
        Map<String, FenceConfig> fences = repo.fences();
        Set<String> off = poweredOff.get();
        for (HostRecord h : hosts.list()) {
            engine.host(h.id(), fences.containsKey(h.id()), h.maintenance(), now);
            engine.poweredOff(h.id(), off.contains(h.id()));
        }
        Map<String, VmHa> all = repo.vms();
        Map<String, VmHa> protectedVms = new LinkedHashMap<>();
        Set<String> present = new HashSet<>();
        for (VmRecord vm : vms.list()) {
            present.add(vm.id());
            VmHa ha = all.getOrDefault(vm.id(), VmHa.off());
            boolean on = ha.enabled() && vm.lifecycle() == Lifecycle.READY && vm.powerState() == PowerState.RUNNING
                    && vm.hostId() != null;
            engine.vm(vm.id(), vm.hostId(), on, ha.priority(), ha.dependsOn());
            engine.restartLimit(vm.id(), ha.maxRestartsPerHour());
            if (on) {
                protectedVms.put(vm.id(), ha);
            }
        }
        for (String id : engine.vmIds()) {
            if (!present.contains(id)) {
                engine.removeVm(id);
            }
        }
        Map<String, VmHa> enabled = new HashMap<>();
        all.forEach((id, ha) -> {
            if (ha.enabled()) {
                enabled.put(id, ha);
            }
        });
        settings = Map.copyOf(enabled);
        health.retain(protectedVms.keySet());
    }

    // ---- the loop

    /** One evaluation: the engine's decisions, the durable state, the health checks that are due. */
    public void tick() {
        Instant now = clock();
        List<Decision> decisions;
        HaEngine.Snapshot snapshot;
        synchronized (lock) {
            sync(now);
            decisions = engine.tick(now);
            snapshot = engine.snapshot();
        }
        persist(snapshot);
        carryOut(decisions);
        checkHealth(Instant.now()); // compared with the guests' start times, which are wall clock
    }

    /** Saves the engine's state when it changed (lease marks alone at most every 30 s). */
    private void persist(HaEngine.Snapshot snapshot) {
        Instant now = clock();
        synchronized (lock) {
            if (!snapshot.worthSaving(saved, savedAt, now)) {
                return;
            }
            saved = snapshot;
            savedAt = now;
        }
        try {
            repo.saveEngineState(ProtocolJson.mapper().writeValueAsString(snapshot));
        } catch (java.io.IOException | RuntimeException e) {
            LOG.error("cannot save the HA state", e);
            synchronized (lock) {
                saved = null;
            }
        }
    }

    /** The host for an HA restart among those that are up: the VM's own host first, then the scheduler's order. */
    private Optional<String> place(String vmId, Set<String> up) {
        Optional<VmRecord> vm = vms.find(vmId);
        if (vm.isEmpty() || up.isEmpty()) {
            return Optional.empty();
        }
        Scheduler.Decision d;
        try {
            d = placement.decide(PlacementService.Subject.of(vm.get()), PlacementService.Purpose.FAILOVER, null);
        } catch (RuntimeException e) {
            LOG.warn("placement for the HA restart of VM {} failed: {}", vm.get().name(), e.getMessage());
            return Optional.empty();
        }
        List<String> acceptable = d.verdicts().stream().filter(Scheduler.Verdict::acceptable)
                .map(Scheduler.Verdict::hostId).filter(up::contains).toList();
        if (acceptable.contains(vm.get().hostId())) {
            return Optional.of(vm.get().hostId());
        }
        if (d.hostId().isPresent() && acceptable.contains(d.hostId().get())) {
            return d.hostId();
        }
        return acceptable.stream().findFirst();
    }

    // ---- carrying out

    /** Carries out each decision; one that fails is logged and the others are carried out. */
    private void carryOut(List<Decision> decisions) {
        for (Decision raw : decisions) {
            try {
                carryOut(raw);
            } catch (RuntimeException e) {
                LOG.error("HA: carrying out {} failed", raw, e);
            }
        }
    }

    private void carryOut(Decision raw) {
        {
            Decision d = new Decision(raw.kind(), raw.host(), raw.vm(), readable(raw.detail()));
            remember(d);
            LOG.info("HA: {}{}{}{}", d.kind().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'),
                    d.host() == null ? "" : " host " + hostName(d.host()) + " (" + d.host() + ")",
                    d.vm() == null ? "" : " VM " + vms.find(d.vm()).map(VmRecord::name).orElse("?") + " (" + d.vm() + ")",
                    d.detail() == null ? "" : ": " + d.detail());
            switch (d.kind()) {
                case FENCE -> {
                    auditDecision(d);
                    fence(d);
                }
                case RESTART -> {
                    auditDecision(d); // in decision order: the trail shows the priority order
                    restart(d);
                }
                case STOP_STRAY -> stopStray(d);
                case RESET -> reset(d);
                default -> auditDecision(d);
            }
        }
    }

    private void auditDecision(Decision d) {
        boolean failure = d.kind() == Decision.Kind.NO_ROOM || d.kind() == Decision.Kind.GAVE_UP
                || d.kind() == Decision.Kind.LIMIT || d.kind() == Decision.Kind.FAILED;
        String action = "ha." + d.kind().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        if (d.vm() != null) {
            String name = vms.find(d.vm()).map(VmRecord::name).orElse(d.vm());
            audit.record(new AuditLog.Entry(ACTOR, action, "vm", d.vm(), name, null,
                    d.host() == null ? null : Map.of("host", hostName(d.host())), d.detail() + endOfRun(d),
                    failure ? Outcome.FAILURE : Outcome.SUCCESS, null));
        } else {
            audit.record(new AuditLog.Entry(ACTOR, action, "host", d.host(), hostName(d.host()), null, null,
                    d.detail(), failure ? Outcome.FAILURE : Outcome.SUCCESS, null));
        }
    }

    /**
     * For a VM that no longer runs on its host: how its run ended as the host reported it (a crash with its cause,
     * such as a guest kernel panic), so the trail says why HA restarts it; empty when the report did not say.
     */
    private String endOfRun(Decision d) {
        if (d.kind() != Decision.Kind.LOST && d.kind() != Decision.Kind.LIMIT) {
            return "";
        }
        return observed.get(d.vm()).filter(o -> d.host().equals(o.hostId()) && !o.status().state().hasProcess()
                && o.status().reason() != null).map(o -> " (" + o.status().state().json() + ": "
                + o.status().reason() + ")").orElse("");
    }

    private void fence(Decision d) {
        String hostId = d.host();
        Optional<FenceConfig> config;
        try {
            config = repo.fence(hostId);
        } catch (org.carevisor.manager.secrets.SecretsException e) {
            // never fence with an empty or wrong password: a failed fencing, named
            audit.record(new AuditLog.Entry(ACTOR, "host.fence", "host", hostId, hostName(hostId), null, null,
                    d.detail() + ": " + e.getMessage(), Outcome.FAILURE, null));
            LOG.error("HA: cannot fence host {}: {}", hostName(hostId), e.getMessage());
            synchronized (lock) {
                engine.fenceResult(hostId, false, clock());
            }
            return;
        }
        if (config.isEmpty() || !fencing.add(hostId)) {
            return;
        }
        work.execute(() -> {
            FenceAgent.Result result;
            String agentName = config.get().kind();
            try {
                FenceAgent agent = config.get().agent(labMode);
                agentName = agent.describe();
                result = agent.powerOff(FENCE_TIMEOUT);
            } catch (RuntimeException e) {
                result = FenceAgent.Result.failed("the fence agent failed: " + e.getMessage());
            } finally {
                fencing.remove(hostId);
            }
            audit.record(new AuditLog.Entry(ACTOR, "host.fence", "host", hostId, hostName(hostId), null,
                    Map.of("agent", agentName, "off", result.off()), d.detail() + ": " + result.detail(),
                    result.off() ? Outcome.SUCCESS : Outcome.FAILURE, null));
            LOG.warn("HA: fencing host {} with {} ({}): {}", hostName(hostId), agentName, d.detail(), result.detail());
            synchronized (lock) {
                engine.fenceResult(hostId, result.off(), clock());
            }
        });
    }

    private void restart(Decision d) {
        Optional<VmRecord> vm = vms.find(d.vm());
        if (vm.isEmpty()) {
            return;
        }
        try {
            tasks.submit("vm.ha-restart", org.carevisor.manager.vm.VmService.target(vm.get()), ACTOR, d.vm(), ctx -> {
                try {
                    VmStatus s = power.failover(d.vm(), d.host(), ACTOR, ctx.taskId());
                    audit.record(new AuditLog.Entry(ACTOR, "vm.ha-restart", "vm", d.vm(), vm.get().name(),
                            Map.of("host", hostName(vm.get().hostId())), Map.of("host", hostName(d.host())),
                            d.detail(), Outcome.SUCCESS, ctx.taskId()));
                    ctx.message("VM " + vm.get().name() + " restarted on host " + hostName(d.host()) + " ("
                            + s.state().json() + ")");
                } catch (Exception e) {
                    restartFailed(d, vm.get(), e.getMessage(), ctx.taskId());
                    throw e;
                }
            });
        } catch (RuntimeException e) {
            restartFailed(d, vm.get(), e.getMessage(), null);
        }
    }

    private void restartFailed(Decision d, VmRecord vm, String why, String taskId) {
        audit.record(new AuditLog.Entry(ACTOR, "vm.ha-restart", "vm", d.vm(), vm.name(), null,
                Map.of("host", hostName(d.host())), d.detail() + ": " + why, Outcome.FAILURE, taskId));
        synchronized (lock) {
            engine.restartFailed(d.vm(), d.host(), clock());
        }
    }

    /** Stops a VM on a host it no longer belongs to, after checking again that it really is elsewhere now. */
    private void stopStray(Decision d) {
        Optional<VmRecord> vm = vms.find(d.vm());
        if (vm.isEmpty() || d.host().equals(vm.get().hostId()) || tasks.isLocked(d.vm())) {
            return;
        }
        Optional<String> endpoint = board.get(d.host()).map(e -> e.inventory().endpoint());
        if (endpoint.isEmpty()) {
            return;
        }
        work.execute(() -> {
            String outcome;
            boolean ok;
            try {
                agents.powerOff(endpoint.get(), d.vm());
                outcome = "stopped";
                ok = true;
            } catch (RuntimeException e) {
                outcome = e.getMessage();
                ok = false;
            }
            audit.record(new AuditLog.Entry(ACTOR, "ha.stop-stray", "vm", d.vm(), vm.get().name(),
                    Map.of("host", hostName(d.host())), Map.of("host", hostName(vm.get().hostId())),
                    d.detail() + ": " + outcome, ok ? Outcome.SUCCESS : Outcome.FAILURE, null));
        });
    }

    /** Resets a guest that failed its health check (the QEMU process stays; the guest reboots). */
    private void reset(Decision d) {
        Optional<VmRecord> vm = vms.find(d.vm());
        Optional<String> endpoint = vm.flatMap(v -> board.get(v.hostId())).map(e -> e.inventory().endpoint());
        if (vm.isEmpty() || endpoint.isEmpty() || tasks.isLocked(d.vm())) {
            return;
        }
        boolean ok;
        String outcome;
        try {
            agents.reset(endpoint.get(), d.vm());
            ok = true;
            outcome = "reset";
        } catch (RuntimeException e) {
            ok = false;
            outcome = e.getMessage();
        }
        audit.record(new AuditLog.Entry(ACTOR, "vm.ha-reset", "vm", d.vm(), vm.get().name(), null,
                Map.of("host", hostName(vm.get().hostId())), d.detail() + ": " + outcome,
                ok ? Outcome.SUCCESS : Outcome.FAILURE, null));
    }

    // ---- health checks

    private void checkHealth(Instant now) {
        Map<String, VmHa> s = settings;
        for (Map.Entry<String, VmHa> e : s.entrySet()) {
            VmHa ha = e.getValue();
            if (ha.healthCheck() == null) {
                continue;
            }
            Optional<VmRecord> vm = vms.find(e.getKey());
            Optional<ObservedStore.Observed> o = observed.get(e.getKey());
            if (vm.isEmpty() || o.isEmpty() || o.get().status().state() != VmState.RUNNING
                    || !o.get().hostId().equals(vm.get().hostId()) || tasks.isLocked(e.getKey())) {
                continue;
            }
            Optional<HealthChecks.Address> address = HealthChecks.address(ha.healthCheck(), vm.get(), o.get().status());
            if (address.isEmpty()) {
                continue;
            }
            health.due(e.getKey(), o.get().status().startedAt(), ha, address.get(), now, failed -> {
                List<Decision> decisions;
                synchronized (lock) {
                    decisions = engine.healthFailed(e.getKey(), failed, clock());
                }
                if (decisions.isEmpty()) {
                    LOG.info("VM {}: {}; not reset: HA does not see it running on its host now", e.getKey(), failed);
                }
                carryOut(decisions);
            });
        }
    }

    // ---- views

    private static final java.util.regex.Pattern ID =
            java.util.regex.Pattern.compile("\\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\b");

    /**
     * The engine's detail with host and VM ids replaced by their names ("was on lab-h1", "waits for ehr-db"), for
     * the audit trail and the HA view; the decision's own host and vm fields keep the ids.
     */
    private String readable(String detail) {
        if (detail == null) {
            return null;
        }
        return ID.matcher(detail).replaceAll(m -> java.util.regex.Matcher.quoteReplacement(
                vms.find(m.group()).map(VmRecord::name).orElseGet(() -> hostName(m.group()))));
    }

    private void remember(Decision d) {
        Map<String, Object> event = new LinkedHashMap<>();
        event.put("at", Instant.now().toString());
        event.put("decision", d.kind().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        event.put("host", d.host() == null ? null : hostName(d.host()));
        event.put("hostId", d.host());
        event.put("vm", d.vm() == null ? null : vms.find(d.vm()).map(VmRecord::name).orElse(d.vm()));
        event.put("vmId", d.vm());
        event.put("detail", d.detail());
        synchronized (recent) {
            recent.addFirst(event);
            while (recent.size() > RECENT) {
                recent.removeLast();
            }
        }
    }

    /** The HA view: each host's health and lease, each protected VM's state, the latest decisions. */
    public Map<String, Object> status() {
        Map<String, Object> out = new LinkedHashMap<>();
        List<Map<String, Object>> hostViews = new ArrayList<>();
        List<Map<String, Object>> vmViews = new ArrayList<>();
        Map<String, FenceConfig> fences = repo.fences();
        Instant now = clock();
        synchronized (lock) {
            for (HaEngine.HostState h : engine.hosts().values()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("id", h.id);
                m.put("name", hostName(h.id));
                // a host not heard from since the start is waited for (the boot window), not yet judged up
                m.put("health", h.health == HaEngine.Health.UP && h.firstHeardAt == null ? "booting"
                        : h.health.name().toLowerCase(java.util.Locale.ROOT));
                m.put("leaseCounter", h.leaseCounter < 0 ? null : h.leaseCounter);
                m.put("leaseAgeSeconds", h.leaseCounter < 0 ? null
                        : Duration.between(h.lastLeaseAdvance, now).toMillis() / 1000.0);
                m.put("fence", fences.containsKey(h.id) ? fences.get(h.id).kind() : null);
                hostViews.add(m);
            }
            for (Map.Entry<String, VmHa> e : settings.entrySet()) {
                HaEngine.VmState v = engine.vmState(e.getKey());
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("id", e.getKey());
                m.put("name", vms.find(e.getKey()).map(VmRecord::name).orElse(e.getKey()));
                m.put("priority", e.getValue().priority());
                m.put("host", v == null || v.host == null ? null : hostName(v.host));
                m.put("protected", v != null && v.ha);
                m.put("state", v == null || !v.ha ? "not protected (stopped)" : v.restartingOn != null
                        ? "restarting on " + hostName(v.restartingOn) : v.needsRestart ? "waiting for a restart"
                        : v.running ? "running" : "not running");
                vmViews.add(m);
            }
        }
        vmViews.sort((a, b) -> Integer.compare((int) b.get("priority"), (int) a.get("priority")));
        out.put("hosts", hostViews);
        out.put("vms", vmViews);
        synchronized (recent) {
            out.put("recent", List.copyOf(recent));
        }
        return out;
    }

    private String hostName(String hostId) {
        if (hostId == null) {
            return null;
        }
        return board.get(hostId).map(e -> e.inventory().hostname())
                .or(() -> hosts.find(hostId).map(HostRecord::name)).orElse(hostId);
    }

    @Override
    public void close() {
        work.shutdownNow();
    }
}
