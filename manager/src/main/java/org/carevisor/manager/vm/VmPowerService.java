package org.carevisor.manager.vm;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.function.Predicate;
import org.carevisor.manager.audit.Values;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.host.AgentCallException;
import org.carevisor.manager.host.AgentClient;
import org.carevisor.manager.host.HostBoard;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.task.TaskService;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;

/**
 * Power operations on VMs as tasks: start, graceful shutdown, power-off, reboot, pause, resume. Each
 * checks the request first (409 when the VM is not in a state that allows it), then records the new
 * desired power state, asks the VM's agent and waits until the observed state follows. A failed operation
 * restores the previous desired state. Every outcome is audited. Thread-safe.
 */
public final class VmPowerService {
    private static final Duration START_WAIT = Duration.ofSeconds(30);
    private static final Duration POWEROFF_WAIT = Duration.ofSeconds(40);
    private static final int MAX_SHUTDOWN_TIMEOUT = 3600;

    private final VmRepository repo;
    private final ObservedStore observed;
    private final HostBoard hosts;
    private final HostRepository hostRepo;
    private final AgentClient agents;
    private final TaskService tasks;
    private final AuditLog audit;
    private final ManagerConfig config;
    private volatile org.carevisor.manager.placement.PlacementService placement;
    private volatile org.carevisor.manager.cluster.ClusterRepository clusters;

    public VmPowerService(VmRepository repo, ObservedStore observed, HostBoard hosts, HostRepository hostRepo,
                          AgentClient agents, TaskService tasks, AuditLog audit, ManagerConfig config) {
        this.repo = repo;
        this.observed = observed;
        this.hosts = hosts;
        this.hostRepo = hostRepo;
        this.agents = agents;
        this.tasks = tasks;
        this.audit = audit;
        this.config = config;
    }

    /** Connects the scheduler (wired after construction: the scheduler needs the rules, which need the VMs). */
    public void usePlacement(org.carevisor.manager.placement.PlacementService placement,
                             org.carevisor.manager.cluster.ClusterRepository clusters) {
        this.placement = placement;
        this.clusters = clusters;
    }

    /** Observed state; {@code unknown} while the VM's host does not report (and something was observed). */
    public VmState observedState(VmRecord vm) {
        Optional<ObservedStore.Observed> o = observed.get(vm.id());
        if (o.isEmpty()) {
            return VmState.STOPPED;
        }
        if (vm.hostId() == null || !hosts.connected(vm.hostId())) {
            return VmState.UNKNOWN;
        }
        return o.get().status().state();
    }

    String endpointOf(VmRecord vm) {
        return hosts.get(vm.hostId()).map(e -> e.inventory().endpoint())
                .or(() -> hostRepo.find(vm.hostId()).map(h -> h.endpoint()))
                .orElseThrow(() -> ApiException.unavailable("host-unavailable", "VM '" + vm.name()
                        + "' is assigned to host " + vm.hostId() + ", which is not known"));
    }

    /** The agent endpoint of the VM's host; 503 when that host is not reporting. */
    public String connectedEndpoint(VmRecord vm) {
        if (!hosts.connected(vm.hostId())) {
            String name = hosts.get(vm.hostId()).map(e -> e.inventory().hostname()).orElse(vm.hostId());
            throw ApiException.unavailable("host-unavailable", "host " + name + " of VM '" + vm.name()
                    + "' is not reporting; check that its agent runs");
        }
        return endpointOf(vm);
    }

    private VmRecord find(String idOrName, String operation) {
        VmRecord vm = repo.find(idOrName).or(() -> repo.findByName(idOrName))
                .orElseThrow(() -> ApiException.notFound("VM", idOrName));
        Lifecycle.requireReady(vm, operation);
        return vm;
    }

    public TaskRecord start(String idOrName, Actor actor) {
        VmRecord vm = find(idOrName, "start");
        VmState state = observedState(vm);
        if (state.hasProcess()) {
            throw ApiException.conflict("vm-already-running", "VM '" + vm.name() + "' is already " + state.json()
                    + (state == VmState.PAUSED ? "; resume it instead" : ""));
        }
        if (state == VmState.UNKNOWN && vm.powerState() != PowerState.STOPPED) {
            connectedEndpoint(vm); // 503: its host may still run it
        }
        String hostId = placeForStart(vm);
        try {
            return tasks.submit("vm.start", VmService.target(vm), actor, vm.id(), ctx -> {
                try {
                    ctx.message(startOn(vm.id(), hostId, actor, ctx.taskId(), null));
                } finally {
                    placement.release(vm.id());
                }
            });
        } catch (RuntimeException e) {
            placement.release(vm.id());
            throw e;
        }
    }

    /** Chooses (and reserves) the host a stopped VM starts on; 409 naming why no host fits. */
    private String placeForStart(VmRecord vm) {
        return placement.reserve(org.carevisor.manager.placement.PlacementService.Subject.of(vm),
                org.carevisor.manager.placement.PlacementService.Purpose.START, null).hostId();
    }

    /** Starts a VM within the caller's task and waits until it runs. */
    void startNow(String vmId, Actor actor, String taskId) throws Exception {
        startInTask(vmId, actor, taskId, null);
    }

    /**
     * Starts a VM within the caller's task (normally, or from the internal snapshot {@code loadSnapshot}, which
     * resumes the guest where the snapshot was taken) on the host the scheduler chooses, and waits until it runs.
     */
    public void startInTask(String vmId, Actor actor, String taskId, String loadSnapshot) throws Exception {
        VmRecord vm = repo.find(vmId).orElseThrow(() -> ApiException.notFound("VM", vmId));
        String hostId = placeForStart(vm);
        try {
            startOn(vmId, hostId, actor, taskId, loadSnapshot);
        } finally {
            placement.release(vmId);
        }
    }

    /**
     * Moves the stopped VM's record to {@code hostId} if it is elsewhere (audited), takes the cluster's CPU
     * model, and starts it there.
     */
    private String startOn(String vmId, String hostId, Actor actor, String taskId, String loadSnapshot)
            throws Exception {
        VmRecord vm = moveTo(vmId, hostId, actor, taskId);
        return startNow(vmId, actor, taskId, connectedEndpoint(vm), loadSnapshot);
    }

    /** Assigns a stopped VM to the host chosen for its start (audited) with its cluster's CPU model. */
    private VmRecord moveTo(String vmId, String hostId, Actor actor, String taskId) {
        VmRecord before = repo.find(vmId).orElseThrow(() -> ApiException.notFound("VM", vmId));
        String cpuModel = clusters.find(before.clusterId()).map(c -> c.cpuModel()).orElse(before.cpuModel());
        repo.jdbi().useTransaction(h -> {
            if (!hostId.equals(before.hostId())) {
                repo.setHost(h, vmId, hostId, false);
                audit.record(h, new AuditLog.Entry(actor, "vm.place", "vm", vmId, before.name(),
                        Values.of("host", before.hostId()), Map.of("host", hostId),
                        "the scheduler chose this host for the start", Outcome.SUCCESS, taskId));
            }
            repo.setCpuModel(h, vmId, cpuModel);
        });
        return repo.find(vmId).orElseThrow(() -> ApiException.notFound("VM", vmId));
    }

    /**
     * The reconcile loop's start: places the VM (it may move to another host when its own cannot take it,
     * e.g. in maintenance), asks the agent to start it and returns at once.
     */
    public VmStatus launch(VmRecord vm, Actor actor) {
        String hostId = placeForStart(vm);
        try {
            VmRecord placed = moveTo(vm.id(), hostId, actor, null);
            VmStatus s = agents.start(connectedEndpoint(placed), placed.toSpec());
            observed.put(hostId, s);
            return s;
        } finally {
            placement.release(vm.id());
        }
    }

    /**
     * HA's restart after a failure: starts the VM on {@code hostId} (placement rules are checked, admission
     * control is not: its reserve is for this), audited as a move when the host changes; returns at once.
     */
    public VmStatus failover(String vmId, String hostId, Actor actor, String taskId) {
        VmRecord vm = repo.find(vmId).orElseThrow(() -> ApiException.notFound("VM", vmId));
        placement.reserve(org.carevisor.manager.placement.PlacementService.Subject.of(vm),
                org.carevisor.manager.placement.PlacementService.Purpose.FAILOVER, hostId);
        try {
            VmRecord placed = moveTo(vmId, hostId, actor, taskId);
            VmStatus s = agents.start(connectedEndpoint(placed), placed.toSpec());
            observed.put(hostId, s);
            return s;
        } finally {
            placement.release(vmId);
        }
    }

    private String startNow(String vmId, Actor actor, String taskId, String endpoint, String loadSnapshot)
            throws Exception {
        VmRecord vm = repo.find(vmId).orElseThrow(() -> ApiException.notFound("VM", vmId));
        return change(vm, PowerState.RUNNING, "vm.start", actor, taskId, () -> {
            VmStatus s = agents.start(endpoint, loadSnapshot == null ? vm.toSpec()
                    : vm.toSpec().withLoadSnapshot(loadSnapshot));
            observed.put(vm.hostId(), s);
            VmState reached = await(vm, st -> st == VmState.RUNNING || st == VmState.PAUSED || !st.hasProcess(),
                    START_WAIT);
            if (!reached.hasProcess()) {
                throw ApiException.conflict("start-failed", "VM '" + vm.name() + "' stopped right after starting: "
                        + observed.get(vm.id()).map(o -> o.status().reason()).orElse("no reason reported"));
            }
            return "VM " + vm.name() + " is " + reached.json();
        });
    }

    public TaskRecord shutdown(String idOrName, Integer timeoutSeconds, Actor actor) {
        VmRecord vm = find(idOrName, "shut down");
        int timeout = timeoutSeconds == null ? config.shutdownTimeoutSeconds() : timeoutSeconds;
        if (timeout < 0 || timeout > MAX_SHUTDOWN_TIMEOUT) {
            throw ApiException.invalid("timeoutSeconds", "must be between 0 and " + MAX_SHUTDOWN_TIMEOUT);
        }
        requireProcess(vm, "shut down");
        String endpoint = connectedEndpoint(vm);
        return tasks.submit("vm.shutdown", VmService.target(vm), actor, vm.id(), ctx -> {
            ctx.progress(10, "waiting for the guest to shut down (power-off after " + timeout + " s)");
            ctx.message(change(vm, PowerState.STOPPED, "vm.shutdown", actor, ctx.taskId(), () -> {
                observed.put(vm.hostId(), agents.shutdown(endpoint, vm.id(), timeout));
                VmState reached = await(vm, st -> !st.hasProcess(), Duration.ofSeconds(timeout).plus(POWEROFF_WAIT));
                return "VM " + vm.name() + " is " + reached.json() + ": "
                        + observed.get(vm.id()).map(o -> o.status().reason()).orElse("");
            }));
        });
    }

    public TaskRecord powerOff(String idOrName, Actor actor) {
        VmRecord vm = find(idOrName, "power off");
        requireProcess(vm, "power off");
        String endpoint = connectedEndpoint(vm);
        return tasks.submit("vm.poweroff", VmService.target(vm), actor, vm.id(),
                ctx -> ctx.message(change(vm, PowerState.STOPPED, "vm.poweroff", actor, ctx.taskId(), () -> {
                    powerOffNow(vm, endpoint);
                    return "VM " + vm.name() + " is powered off";
                })));
    }

    /** Powers a VM off within the caller's task and waits until QEMU has ended. */
    public void powerOffNow(VmRecord vm, String endpoint) throws InterruptedException {
        observed.put(vm.hostId(), agents.powerOff(endpoint, vm.id()));
        await(vm, st -> !st.hasProcess(), POWEROFF_WAIT);
    }

    /** Hard reset of a running VM (like the reset button); the guest boots again. */
    public TaskRecord reboot(String idOrName, Actor actor) {
        return oneCall(idOrName, VmState.RUNNING, "reboot", null, actor, agents::reset, "was reset and boots again");
    }

    public TaskRecord pause(String idOrName, Actor actor) {
        return oneCall(idOrName, VmState.RUNNING, "pause", PowerState.PAUSED, actor, agents::pause, "is paused");
    }

    public TaskRecord resume(String idOrName, Actor actor) {
        return oneCall(idOrName, VmState.PAUSED, "resume", PowerState.RUNNING, actor, agents::resume, "is running");
    }

    /**
     * An operation that is one agent call on a VM in the {@code required} observed state; {@code next} is the
     * new desired power state (null: unchanged).
     */
    private TaskRecord oneCall(String idOrName, VmState required, String verb, PowerState next, Actor actor,
                               BiFunction<String, String, VmStatus> call, String done) {
        VmRecord vm = find(idOrName, verb);
        requireState(vm, required, verb);
        String endpoint = connectedEndpoint(vm);
        String kind = "vm." + verb;
        return tasks.submit(kind, VmService.target(vm), actor, vm.id(),
                ctx -> ctx.message(change(vm, next, kind, actor, ctx.taskId(), () -> {
                    observed.put(vm.hostId(), call.apply(endpoint, vm.id()));
                    return "VM " + vm.name() + " " + done;
                })));
    }

    private void requireProcess(VmRecord vm, String what) {
        VmState state = observedState(vm);
        if (state == VmState.UNKNOWN) {
            connectedEndpoint(vm);
        }
        if (!state.hasProcess()) {
            throw ApiException.conflict("vm-not-running", "cannot " + what + " VM '" + vm.name() + "': it is "
                    + state.json());
        }
    }

    private void requireState(VmRecord vm, VmState wanted, String what) {
        VmState state = observedState(vm);
        if (state == VmState.UNKNOWN) {
            connectedEndpoint(vm);
        }
        if (state != wanted) {
            throw ApiException.conflict(wanted == VmState.RUNNING ? "vm-not-running" : "vm-not-paused",
                    "cannot " + what + " VM '" + vm.name() + "': it is " + state.json() + ", not " + wanted.json());
        }
    }

    /** The work of a power operation; returns the result message. */
    @FunctionalInterface
    private interface Work {
        String run() throws Exception;
    }

    /**
     * Records the new desired state (if any), does the work and audits the outcome; on failure the previous
     * desired state is restored.
     */
    private String change(VmRecord vm, PowerState next, String action, Actor actor, String taskId, Work work)
            throws Exception {
        PowerState previous = repo.find(vm.id()).map(VmRecord::powerState).orElse(vm.powerState());
        Map<String, Object> before = new LinkedHashMap<>();
        before.put("powerState", previous.json());
        before.put("state", observedState(vm).json());
        Map<String, Object> after = new LinkedHashMap<>();
        after.put("powerState", (next == null ? previous : next).json());
        if (next != null && next != previous) {
            repo.jdbi().useTransaction(h -> repo.setPower(h, vm.id(), next, Instant.now()));
        }
        try {
            String message = work.run();
            audit.record(new AuditLog.Entry(actor, action, "vm", vm.id(), vm.name(), before, after, null,
                    Outcome.SUCCESS, taskId));
            return message;
        } catch (Exception e) {
            if (next != null && next != previous) {
                repo.jdbi().useTransaction(h -> repo.setPower(h, vm.id(), previous, Instant.now()));
            }
            audit.record(new AuditLog.Entry(actor, action, "vm", vm.id(), vm.name(), before, before,
                    e instanceof AgentCallException || e instanceof ApiException ? e.getMessage() : e.toString(),
                    Outcome.FAILURE, taskId));
            throw e;
        }
    }

    /** Waits until the observed state satisfies {@code done}; 504 when it does not in time. */
    private VmState await(VmRecord vm, Predicate<VmState> done, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            VmState s = observedState(vm);
            if (done.test(s)) {
                return s;
            }
            if (System.nanoTime() > deadline) {
                throw new ApiException(504, "timeout", "Timed out", "VM '" + vm.name() + "' did not reach the"
                        + " expected state within " + limit.toSeconds() + " s; it is " + s.json(), null);
            }
            Thread.sleep(50);
        }
    }
}
