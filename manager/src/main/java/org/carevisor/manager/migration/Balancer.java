package org.carevisor.manager.migration;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.cluster.ClusterRecord;
import org.carevisor.manager.cluster.ClusterRepository;
import org.carevisor.manager.placement.PlacementService;
import org.carevisor.manager.placement.Rule;
import org.carevisor.manager.placement.RuleService;
import org.carevisor.manager.placement.Scheduler;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The periodic balancer: for each cluster whose mode is not {@code off}, every interval, asks
 * {@link BalancePlan} for the best move. In {@code recommend} mode the move is kept as a recommendation for
 * operators; in {@code automatic} mode it is carried out as a live migration by {@code system:balancer}
 * (audited like any migration), one at a time per cluster. Thread-safe.
 */
public final class Balancer {
    private static final Logger LOG = LoggerFactory.getLogger(Balancer.class);
    private static final Actor ACTOR = Actor.system("balancer");

    /** A recommendation shown to operators. */
    public record Recommendation(String clusterId, String vm, String vmId, String from, String to, String why,
                                 Instant at, String mode, String taskId) {
    }

    private final ClusterRepository clusters;
    private final PlacementService placement;
    private final RuleService rules;
    private final VmRepository vms;
    private final MigrationService migrations;
    private final Map<String, Instant> lastRun = new ConcurrentHashMap<>();
    private final Map<String, Recommendation> latest = new ConcurrentHashMap<>();
    private final Map<String, String> runningTask = new ConcurrentHashMap<>();
    private final org.carevisor.manager.task.TaskService tasks;

    public Balancer(ClusterRepository clusters, PlacementService placement, RuleService rules, VmRepository vms,
                    MigrationService migrations, org.carevisor.manager.task.TaskService tasks) {
        this.clusters = clusters;
        this.placement = placement;
        this.rules = rules;
        this.vms = vms;
        this.migrations = migrations;
        this.tasks = tasks;
    }

    /**
     * One pass: evaluates each cluster whose balancing interval has passed. Run every second as the job
     * {@code balancer} of the manager's {@link org.carevisor.manager.jobs.JobSupervisor}.
     */
    public void pass() {
        Instant now = Instant.now();
        for (ClusterRecord c : clusters.list()) {
            if (c.balancer().mode().equals("off")) {
                latest.remove(c.id());
                continue;
            }
            Instant last = lastRun.get(c.id());
            if (last != null && last.plusSeconds(c.balancer().intervalSeconds()).isAfter(now)) {
                continue;
            }
            lastRun.put(c.id(), now);
            evaluate(c, now);
        }
    }

    /** One balancing decision for the cluster (also used by the API to evaluate at once). */
    public Optional<Recommendation> evaluate(ClusterRecord c, Instant now) {
        String busy = runningTask.get(c.id());
        if (busy != null && tasks.find(busy).map(t -> !t.state().finished()).orElse(false)) {
            return Optional.ofNullable(latest.get(c.id()));
        }
        runningTask.remove(c.id());
        Optional<BalancePlan.Move> move = plan(c, now);
        if (move.isEmpty()) {
            latest.remove(c.id());
            return Optional.empty();
        }
        BalancePlan.Move m = move.get();
        String taskId = null;
        if (c.balancer().mode().equals("automatic")) {
            try {
                taskId = migrations.migrate(m.vmId(), new MigrationService.Request(m.toHostId(), null, null, null,
                        "balancer: " + m.why()), ACTOR, "balancer").id();
                runningTask.put(c.id(), taskId);
                LOG.info("balancer of cluster {}: {}", c.name(), m.why());
            } catch (RuntimeException e) {
                LOG.info("balancer of cluster {} could not move {}: {}", c.name(), m.vmName(), e.getMessage());
            }
        }
        Recommendation r = new Recommendation(c.id(), m.vmName(), m.vmId(), hostName(m.fromHostId()),
                hostName(m.toHostId()), m.why(), now, c.balancer().mode(), taskId);
        latest.put(c.id(), r);
        return Optional.of(r);
    }

    /** The latest recommendation for the cluster, if any. */
    public Optional<Recommendation> recommendation(String clusterId) {
        return Optional.ofNullable(latest.get(clusterId));
    }

    Optional<BalancePlan.Move> plan(ClusterRecord c, Instant now) {
        List<Scheduler.HostState> states = placement.hostStates(c.id());
        List<BalancePlan.HostLoad> loads = new ArrayList<>();
        for (Scheduler.HostState h : states) {
            if (h.connected() && !h.maintenance() && !h.shuttingDown()) {
                long capacity = (long) Math.floor(Math.max(0, h.memoryMiB() - h.reservedMemoryMiB())
                        * c.memoryOvercommit());
                loads.add(new BalancePlan.HostLoad(h.id(), h.name(), capacity, h.committedMemoryMiB()));
            }
        }
        Set<String> inAffinity = new java.util.HashSet<>();
        List<Rule> all = rules.rules();
        all.stream().filter(r -> r.kind() == Rule.Kind.VM_AFFINITY).forEach(r -> inAffinity.addAll(r.vmIds()));
        Map<String, String> occupancy = placement.occupancy();
        List<BalancePlan.Candidate> candidates = new ArrayList<>();
        for (VmRecord vm : vms.list()) {
            if (c.id().equals(vm.clusterId()) && occupancy.containsKey(vm.id()) && !tasks.isLocked(vm.id())) {
                candidates.add(new BalancePlan.Candidate(vm.id(), vm.name(), vm.hostId(), vm.memoryMiB(),
                        !vm.onLocalStorage() && !inAffinity.contains(vm.id()), vm.lastMigratedAt()));
            }
        }
        Map<String, VmRecord> byId = new java.util.HashMap<>();
        vms.list().forEach(v -> byId.put(v.id(), v));
        return BalancePlan.next(loads, candidates, c.balancer().thresholdPercent(),
                Duration.ofMinutes(c.balancer().cooldownMinutes()), now, (vmId, hostId) -> placement.decide(
                        PlacementService.Subject.of(byId.get(vmId)), PlacementService.Purpose.MIGRATE, hostId)
                        .hostId().isPresent());
    }

    private String hostName(String hostId) {
        return placement.hostStates(null).stream().filter(h -> h.id().equals(hostId)).map(Scheduler.HostState::name)
                .findFirst().orElse(hostId);
    }
}
