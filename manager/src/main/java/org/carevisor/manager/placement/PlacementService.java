package org.carevisor.manager.placement;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.cluster.ClusterRecord;
import org.carevisor.manager.cluster.ClusterRepository;
import org.carevisor.manager.host.HostBoard;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.vm.Lifecycle;
import org.carevisor.manager.vm.ObservedStore;
import org.carevisor.manager.vm.PowerState;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.VmState;

/**
 * Gives the {@link Scheduler} its picture of the cluster (hosts, what runs where, rules) and keeps
 * reservations for placements in progress (a VM being started, the destination of a migration), so that two
 * placements at the same time do not both take the last free memory. Decisions are serialised. Thread-safe.
 */
public final class PlacementService {
    private final HostBoard board;
    private final HostRepository hosts;
    private final ClusterRepository clusters;
    private final VmRepository vms;
    private final ObservedStore observed;
    private final RuleService rules;
    /** VM id to the host that a placement in progress has reserved for it. */
    private final Map<String, String> reservations = new ConcurrentHashMap<>();

    public PlacementService(HostBoard board, HostRepository hosts, ClusterRepository clusters, VmRepository vms,
                            ObservedStore observed, RuleService rules) {
        this.board = board;
        this.hosts = hosts;
        this.clusters = clusters;
        this.vms = vms;
        this.observed = observed;
        this.rules = rules;
    }

    /** What to place: a VM that exists or is about to. */
    public record Subject(String vmId, String vmName, String clusterId, int cpus, int memoryMiB, Set<String> bridges,
                          String pinnedHostId, String currentHostId) {
        public static Subject of(VmRecord vm) {
            return new Subject(vm.id(), vm.name(), vm.clusterId(), vm.cpus(), vm.memoryMiB(), vm.bridges(),
                    vm.onLocalStorage() ? vm.hostId() : null, vm.hostId());
        }
    }

    /**
     * How to place: for a start or a migration (CPU and memory counted), or only defining the VM; {@code FAILOVER}
     * is an HA restart after a failure (counted like a start, but HA admission control does not apply: the
     * capacity it kept free is there for this).
     */
    public enum Purpose { DEFINE, START, MIGRATE, FAILOVER }

    /** What HA admission control needs: the cluster's setting and which VMs are HA-protected. */
    public interface HaFacts {
        boolean admissionControl(String clusterId);

        boolean protectedVm(String vmId);
    }

    private volatile HaFacts ha;

    public void useHa(HaFacts facts) {
        this.ha = facts;
    }

    /** The cluster a new VM goes to: the named one, else the named host's, else the default. */
    public ClusterRecord clusterFor(String clusterRef, String hostRef) {
        if (clusterRef != null) {
            return clusters.find(clusterRef).or(() -> clusters.findByName(clusterRef))
                    .orElseThrow(() -> ApiException.invalid("cluster", "no cluster '" + clusterRef + "'"));
        }
        if (hostRef != null) {
            return clusters.find(host(hostRef).clusterId()).orElseThrow();
        }
        ClusterRecord fallback = clusters.find(ClusterRecord.DEFAULT_ID).orElseThrow();
        boolean defaultHasHosts = hosts.inCluster(fallback.id()).stream().anyMatch(h -> board.connected(h.id()));
        if (defaultHasHosts) {
            return fallback;
        }
        List<String> withHosts = hosts.list().stream().filter(h -> board.connected(h.id())).map(HostRecord::clusterId)
                .distinct().toList();
        return withHosts.size() == 1 ? clusters.find(withHosts.get(0)).orElseThrow() : fallback;
    }

    /** The name of a cluster (its id when it no longer exists). */
    public String clusterName(String clusterId) {
        return clusterId == null ? null : clusters.find(clusterId).map(ClusterRecord::name).orElse(clusterId);
    }

    /** A host by id or name; 400 naming the field when there is none. */
    public HostRecord host(String ref) {
        return hosts.find(ref).or(() -> hosts.list().stream().filter(h -> h.name().equals(ref)).findFirst())
                .orElseThrow(() -> ApiException.invalid("host", "no host '" + ref + "'"));
    }

    /**
     * Chooses a host and reserves it for the VM until {@link #release}; 409 {@code placement-refused} with the
     * reason for every host when none fits, 503 {@code no-host} when the cluster has no reporting host.
     */
    public synchronized Scheduler.Verdict reserve(Subject s, Purpose purpose, String explicitHostId) {
        Scheduler.Decision d = decide(s, purpose, explicitHostId);
        if (d.hostId().isEmpty()) {
            ClusterRecord c = clusters.find(s.clusterId()).orElseThrow();
            boolean anyConnected = hosts.inCluster(c.id()).stream().anyMatch(h -> board.connected(h.id()));
            if (!anyConnected && explicitHostId == null) {
                throw ApiException.unavailable("no-host", "no host of cluster '" + c.name() + "' is reporting; start"
                        + " an agent (./carevisor up starts one for this machine)");
            }
            String what = switch (purpose) {
                case DEFINE -> "hold";
                case START, FAILOVER -> "start";
                case MIGRATE -> "receive";
            };
            throw ApiException.conflict("placement-refused", "no host can " + what + " VM '" + s.vmName() + "': "
                    + d.explain());
        }
        String hostId = d.hostId().get();
        if (purpose != Purpose.DEFINE) {
            reservations.put(s.vmId(), hostId);
        }
        return d.verdicts().stream().filter(v -> v.hostId().equals(hostId)).findFirst().orElseThrow();
    }

    /** Ends the reservation of a placement that finished (or failed). */
    public void release(String vmId) {
        reservations.remove(vmId);
    }

    /** The scheduler's decision, without reserving anything. */
    public synchronized Scheduler.Decision decide(Subject s, Purpose purpose, String explicitHostId) {
        ClusterRecord c = clusters.find(s.clusterId()).orElseThrow(() -> new IllegalStateException("VM "
                + s.vmName() + " has no cluster"));
        Map<String, String> occupied = occupancy();
        // a VM on its way (start or migration in progress) counts where it is going
        reservations.forEach((vmId, hostId) -> {
            if (!vmId.equals(s.vmId())) {
                occupied.put(vmId, hostId);
            }
        });
        Map<String, String> names = new HashMap<>();
        vms.list().forEach(v -> names.put(v.id(), v.name()));
        List<Scheduler.HostState> states = hostStates(explicitHostId != null ? null : c.id());
        Scheduler.Request request = new Scheduler.Request(s.vmId(), s.vmName(), c.id(), s.cpus(), s.memoryMiB(),
                s.bridges(), s.pinnedHostId(), s.currentHostId(), purpose == Purpose.MIGRATE, explicitHostId,
                purpose != Purpose.DEFINE);
        Scheduler.Decision d = Scheduler.place(request, clusterState(c), states, rules.rules(),
                new Scheduler.Placements(occupied, names));
        HaFacts facts = ha;
        if (purpose != Purpose.START || facts == null || !facts.admissionControl(c.id())) {
            return d;
        }
        return admit(d, s, states.stream().filter(h -> c.id().equals(h.clusterId()) && h.connected()
                && !h.maintenance()).toList(), occupied, facts, c.memoryOvercommit());
    }

    /** The scheduler's decision with HA admission control applied: hosts that would break it are refused. */
    private Scheduler.Decision admit(Scheduler.Decision d, Subject s, List<Scheduler.HostState> hosts,
                                     Map<String, String> occupied, HaFacts facts, double overcommit) {
        Map<String, Long> haMemory = new HashMap<>();
        Map<String, Integer> memory = new HashMap<>();
        vms.list().forEach(v -> memory.put(v.id(), v.memoryMiB()));
        occupied.forEach((vmId, hostId) -> {
            if (!vmId.equals(s.vmId()) && facts.protectedVm(vmId)) {
                haMemory.merge(hostId, (long) memory.getOrDefault(vmId, 0), Long::sum);
            }
        });
        boolean vmHa = facts.protectedVm(s.vmId());
        List<Scheduler.Verdict> verdicts = new ArrayList<>();
        for (Scheduler.Verdict v : d.verdicts()) {
            Optional<String> refusal = v.acceptable() ? Admission.refusal(v.hostId(), s.memoryMiB(), vmHa, hosts,
                    haMemory, overcommit) : Optional.empty();
            if (refusal.isPresent()) {
                List<String> reasons = new ArrayList<>(v.refusals());
                reasons.add(refusal.get());
                verdicts.add(new Scheduler.Verdict(v.hostId(), v.hostName(), reasons, v.brokenShouldRules(),
                        v.memoryLoadAfter()));
            } else {
                verdicts.add(v);
            }
        }
        Optional<String> chosen = d.hostId().filter(id -> verdicts.stream().anyMatch(v -> v.hostId().equals(id)
                && v.acceptable()));
        if (chosen.isEmpty()) {
            chosen = verdicts.stream().filter(Scheduler.Verdict::acceptable).min(java.util.Comparator
                    .comparingInt((Scheduler.Verdict v) -> v.brokenShouldRules().size())
                    .thenComparingDouble(Scheduler.Verdict::memoryLoadAfter)).map(Scheduler.Verdict::hostId);
        }
        return new Scheduler.Decision(chosen, verdicts);
    }

    public static Scheduler.ClusterState clusterState(ClusterRecord c) {
        return new Scheduler.ClusterState(c.id(), c.name(), c.cpuModel(), c.storageDomainId(), c.cpuOvercommit(),
                c.memoryOvercommit());
    }

    /**
     * Where every VM that holds resources is now: VMs that run (or should run) on their host. Reservations of
     * placements in progress are counted by {@link #hostStates}, not here.
     */
    public Map<String, String> occupancy() {
        Map<String, String> out = new HashMap<>();
        for (VmRecord vm : vms.list()) {
            if (occupies(vm)) {
                out.put(vm.id(), vm.hostId());
            }
        }
        return out;
    }

    private boolean occupies(VmRecord vm) {
        if (vm.hostId() == null || vm.lifecycle() != Lifecycle.READY) {
            return false;
        }
        VmState state = observed.get(vm.id()).map(o -> o.status().state()).orElse(VmState.STOPPED);
        return vm.powerState() != PowerState.STOPPED || state.hasProcess();
    }

    /** Every host with its facts and the CPU and memory committed to it (running VMs and reservations). */
    public List<Scheduler.HostState> hostStates(String onlyCluster) {
        Map<String, int[]> cpu = new HashMap<>();
        Map<String, long[]> mem = new HashMap<>();
        Map<String, VmRecord> byId = new HashMap<>();
        for (VmRecord vm : vms.list()) {
            byId.put(vm.id(), vm);
            if (occupies(vm)) {
                cpu.computeIfAbsent(vm.hostId(), k -> new int[1])[0] += vm.cpus();
                mem.computeIfAbsent(vm.hostId(), k -> new long[1])[0] += vm.memoryMiB();
            }
        }
        reservations.forEach((vmId, hostId) -> {
            VmRecord vm = byId.get(vmId);
            if (vm != null && !(occupies(vm) && hostId.equals(vm.hostId()))) {
                cpu.computeIfAbsent(hostId, k -> new int[1])[0] += vm.cpus();
                mem.computeIfAbsent(hostId, k -> new long[1])[0] += vm.memoryMiB();
            }
        });
        List<Scheduler.HostState> out = new ArrayList<>();
        for (HostRecord h : hosts.list()) {
            if (onlyCluster != null && !onlyCluster.equals(h.clusterId())) {
                continue;
            }
            Optional<HostBoard.Entry> live = board.get(h.id());
            HostInventory inv = live.map(HostBoard.Entry::inventory).orElse(h.inventory());
            out.add(new Scheduler.HostState(h.id(), h.name(), h.clusterId(), board.connected(h.id()),
                    inv.shuttingDown(), h.maintenance(), inv.cpus(), inv.memoryMiB(), h.reservedMemoryMiB(),
                    inv.storageDomainId(), Set.copyOf(h.tags()), Set.copyOf(inv.bridges()), inv.cpuModels(),
                    cpu.getOrDefault(h.id(), new int[1])[0], mem.getOrDefault(h.id(), new long[1])[0],
                    inv.memoryAvailableMiB()));
        }
        return out;
    }
}
