package org.carevisor.manager.reconcile;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.host.AgentClient;
import org.carevisor.manager.host.HostBoard;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.vm.ObservedStore;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reconcile loop: periodically (and after each report) compares every VM's desired and observed state
 * and acts through the agents. VMs with a running task are left to the task. After a failed action the
 * VM is left alone for a back-off period. Every action is audited as the system's. Its passes run as the job
 * {@code reconcile} of the manager's {@link org.carevisor.manager.jobs.JobSupervisor} ({@link #pass}; a report
 * {@link #kick}s it). Thread-safe.
 */
public final class Reconciler {
    private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);
    private static final Duration BACKOFF = Duration.ofSeconds(30);
    private static final Actor ACTOR = Actor.system("reconciler");

    private final VmRepository vms;
    private final ObservedStore observed;
    private final HostBoard hosts;
    private final AgentClient agents;
    private final TaskService tasks;
    private final AuditLog audit;
    private final Duration interval;
    private final int shutdownTimeoutSeconds;
    private volatile org.carevisor.manager.vm.VmPowerService power;
    private final Map<String, Instant> backoff = new ConcurrentHashMap<>();
    private volatile Runnable kicker = () -> { };

    public Reconciler(VmRepository vms, ObservedStore observed, HostBoard hosts, AgentClient agents, TaskService tasks,
                      AuditLog audit, Duration interval, int shutdownTimeoutSeconds) {
        this.vms = vms;
        this.observed = observed;
        this.hosts = hosts;
        this.agents = agents;
        this.tasks = tasks;
        this.audit = audit;
        this.interval = interval;
        this.shutdownTimeoutSeconds = shutdownTimeoutSeconds;
    }

    private volatile java.util.function.Predicate<String> haProtected = id -> false;

    /**
     * Which VMs high availability protects: the loop does not start those (HA restarts them, on a host whose
     * lease is fresh, counting its restart limit); starting them here too could start one twice.
     */
    public void haProtected(java.util.function.Predicate<String> p) {
        this.haProtected = p;
    }

    /** The start path with placement (wired after construction). */
    public void usePower(org.carevisor.manager.vm.VmPowerService power) {
        this.power = power;
    }

    /** How often a pass runs without a kick. */
    public Duration interval() {
        return interval;
    }

    /** What {@link #kick} does: wake the job that runs the passes (set when the job is scheduled). */
    public void onKick(Runnable k) {
        this.kicker = k;
    }

    /** Runs a pass soon. */
    public void kick() {
        kicker.run();
    }

    private volatile java.util.function.Supplier<Map<String, org.carevisor.manager.ha.VmHa>> haSettings = Map::of;

    /** The HA settings of every VM (priority and dependencies give the start order; read once per pass). */
    public void haSettings(java.util.function.Supplier<Map<String, org.carevisor.manager.ha.VmHa>> s) {
        this.haSettings = s;
    }

    /**
     * One pass over all VMs. The VMs to start go through {@link StartOrder}: by priority, after the VMs they depend
     * on, at most {@link StartOrder#DEFAULT_PER_HOST} booting per host; the others wait for a later pass.
     */
    public void pass() {
        List<VmRecord> toStart = new ArrayList<>();
        Map<String, String> startWhy = new HashMap<>();
        Map<String, StartOrder.Running> running = new HashMap<>();
        Map<String, String> awaited = new HashMap<>();
        for (VmRecord vm : vms.list()) {
            VmStatus s = observed.get(vm.id()).map(ObservedStore.Observed::status).orElse(null);
            if (vm.powerState() == org.carevisor.manager.vm.PowerState.RUNNING
                    && vm.lifecycle() == org.carevisor.manager.vm.Lifecycle.READY
                    && (s == null || !s.state().hasProcess())) {
                awaited.put(vm.id(), vm.name());
            }
            Instant until = backoff.get(vm.id());
            if (until != null && until.isAfter(Instant.now())) {
                continue;
            }
            boolean connected = vm.hostId() != null && hosts.connected(vm.hostId());
            ReconcileDecision.Decision d = ReconcileDecision.decide(new ReconcileDecision.Input(vm.powerState(),
                    vm.lifecycle(), connected, hosts.shuttingDown(vm.hostId()), tasks.isLocked(vm.id()),
                    s == null ? VmState.STOPPED : s.state(), s == null ? null : s.cause(),
                    s != null));
            if (s != null && s.state().hasProcess() && vm.hostId() != null) {
                running.put(vm.id(), new StartOrder.Running(vm.hostId(), s.state() == VmState.STARTING ? null
                        : s.startedAt(), vm.name()));
            }
            // HA restarts the VMs it protects (counting their restart limit), except those shut down in order with
            // their host: those start again here, on their host, in start order
            if (d.action() == ReconcileAction.START && haProtected.test(vm.id())
                    && (s == null || s.cause() != org.carevisor.protocol.StopCause.HOST_SHUTDOWN)) {
                continue;
            }
            if (d.action() == ReconcileAction.START) {
                toStart.add(vm);
                startWhy.put(vm.id(), d.why());
            } else if (d.action() != ReconcileAction.NONE) {
                act(vm, d);
            }
        }
        Instant now = Instant.now();
        Set<String> startIds = new java.util.HashSet<>();
        toStart.forEach(v -> startIds.add(v.id()));
        candidateSince.keySet().retainAll(startIds);
        if (toStart.isEmpty()) {
            return;
        }
        Map<String, org.carevisor.manager.ha.VmHa> ha = haSettings.get();
        Map<String, VmRecord> byId = new HashMap<>();
        List<StartOrder.Candidate> candidates = new ArrayList<>();
        for (VmRecord vm : toStart) {
            byId.put(vm.id(), vm);
            org.carevisor.manager.ha.VmHa h = ha.get(vm.id());
            boolean on = h != null && h.enabled();
            candidates.add(new StartOrder.Candidate(vm.id(), vm.name(), vm.hostId(), on ? h.priority() : -1,
                    on ? h.dependsOn() : List.of(), candidateSince.computeIfAbsent(vm.id(), id -> now)));
        }
        for (StartOrder.Verdict v : StartOrder.decide(candidates, running, awaited, now, StartOrder.DEFAULT_SETTLE,
                StartOrder.DEFAULT_PER_HOST, StartOrder.DEFAULT_MAX_WAIT)) {
            if (v.start()) {
                act(byId.get(v.vm().id()), new ReconcileDecision.Decision(ReconcileAction.START,
                        startWhy.get(v.vm().id()) + "; " + v.why()));
            } else if (waiting.add(v.vm().id() + ": " + v.why())) {
                LOG.info("reconcile VM {}: start waits: {}", v.vm().name(), v.why());
            }
        }
        waiting.removeIf(w -> candidates.stream().noneMatch(c -> w.startsWith(c.id() + ": ")));
    }

    /** Since when each VM the loop would start is a candidate (bounds its wait for a dependency that is away). */
    private final Map<String, Instant> candidateSince = new ConcurrentHashMap<>();

    /** Start waits already logged (logged once until the VM starts or stops waiting). */
    private final Set<String> waiting = ConcurrentHashMap.newKeySet();

    private void act(VmRecord vm, ReconcileDecision.Decision d) {
        String endpoint = hosts.get(vm.hostId()).map(e -> e.inventory().endpoint()).orElse(null);
        if (endpoint == null) {
            return;
        }
        LOG.info("reconcile VM {}: {} ({})", vm.name(), d.action().json(), d.why());
        try {
            VmStatus s = switch (d.action()) {
                case START -> power.launch(vm, ACTOR);
                case SHUTDOWN -> agents.shutdown(endpoint, vm.id(), shutdownTimeoutSeconds);
                case PAUSE -> agents.pause(endpoint, vm.id());
                case RESUME -> agents.resume(endpoint, vm.id());
                case NONE -> null;
            };
            if (s != null && d.action() != ReconcileAction.START) {
                observed.put(vm.hostId(), s);
            }
            backoff.remove(vm.id());
            audit.record(new AuditLog.Entry(ACTOR, "vm.reconcile." + d.action().json(), "vm", vm.id(), vm.name(),
                    null, Map.of("powerState", vm.powerState().json()), d.why(), Outcome.SUCCESS, null));
        } catch (RuntimeException e) {
            backoff.put(vm.id(), Instant.now().plus(BACKOFF));
            LOG.warn("reconcile VM {}: {} failed: {} (next try in {} s)", vm.name(), d.action().json(), e.getMessage(),
                    BACKOFF.toSeconds());
            audit.record(new AuditLog.Entry(ACTOR, "vm.reconcile." + d.action().json(), "vm", vm.id(), vm.name(),
                    null, Map.of("powerState", vm.powerState().json()), d.why() + "; failed: " + e.getMessage(),
                    Outcome.FAILURE, null));
        }
    }
}
