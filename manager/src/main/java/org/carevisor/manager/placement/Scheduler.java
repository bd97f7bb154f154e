package org.carevisor.manager.placement;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Chooses a host for a VM. Pure: everything it needs is in its arguments, and each host gets a verdict with
 * every reason it was refused, so that an operator reads why no host fits. Table-tested in SchedulerTest.
 *
 * <p>A host is refused for: another cluster, not reporting, maintenance, shutting down, the VM's local
 * storage on another host, the cluster's storage domain not mounted, the cluster's CPU model missing, a
 * bridge missing, not enough CPU or memory (with the cluster's overcommit and the host's reserved memory),
 * or a {@code must} rule. Among the hosts left, fewer broken {@code should} rules win, then the VM's current
 * host (a VM is not moved by a start), then the host whose memory is least loaded after the placement, then
 * the name.
 */
public final class Scheduler {
    /** A host as the scheduler sees it: its facts and what is placed on it now. */
    public record HostState(String id, String name, String clusterId, boolean connected, boolean shuttingDown,
                            boolean maintenance, int cpus, long memoryMiB, int reservedMemoryMiB,
                            String storageDomainId, Set<String> tags, Set<String> bridges, List<String> cpuModels,
                            int committedCpus, long committedMemoryMiB, long memoryAvailableMiB) {
        public HostState {
            tags = Set.copyOf(tags);
            bridges = Set.copyOf(bridges);
            cpuModels = List.copyOf(cpuModels);
        }

        /** Memory the host can give to VMs with the cluster's overcommit. */
        long memoryCapacity(double overcommit) {
            return (long) Math.floor(Math.max(0, memoryMiB - reservedMemoryMiB) * overcommit);
        }

        long cpuCapacity(double overcommit) {
            return (long) Math.floor(cpus * overcommit);
        }
    }

    /** The cluster's settings that placement depends on. */
    public record ClusterState(String id, String name, String cpuModel, String storageDomainId, double cpuOvercommit,
                               double memoryOvercommit) {
    }

    /**
     * What to place. {@code pinnedHostId}: the VM's disks are on this host's local storage; {@code currentHostId}:
     * where the VM is now; {@code leaveCurrent}: the current host is not a candidate (migration);
     * {@code explicitHostId}: the operator named the host; {@code checkLoad}: count CPU and memory in use
     * (false for a VM that is only defined, not started).
     */
    public record Request(String vmId, String vmName, String clusterId, int cpus, int memoryMiB, Set<String> bridges,
                          String pinnedHostId, String currentHostId, boolean leaveCurrent, String explicitHostId,
                          boolean checkLoad) {
        public Request {
            bridges = Set.copyOf(bridges);
        }
    }

    /** Where other VMs are placed now: VM id to host id, and VM names for the explanations. */
    public record Placements(Map<String, String> hostOfVm, Map<String, String> vmNames) {
        String name(String vmId) {
            return vmNames.getOrDefault(vmId, vmId);
        }
    }

    /** One host's verdict: refused with reasons, or acceptable with the should-rules it breaks and its load. */
    public record Verdict(String hostId, String hostName, List<String> refusals, List<String> brokenShouldRules,
                          double memoryLoadAfter) {
        public boolean acceptable() {
            return refusals.isEmpty();
        }
    }

    /** The chosen host (if any) and the verdict on every host that was considered. */
    public record Decision(Optional<String> hostId, List<Verdict> verdicts) {
        /** Why each host was refused, one host per clause. */
        public String explain() {
            StringBuilder out = new StringBuilder();
            for (Verdict v : verdicts) {
                if (!v.acceptable()) {
                    if (!out.isEmpty()) {
                        out.append("; ");
                    }
                    out.append("host ").append(v.hostName()).append(": ").append(String.join(", ", v.refusals()));
                }
            }
            return out.isEmpty() ? "no host is in the cluster" : out.toString();
        }
    }

    private Scheduler() {
    }

    public static Decision place(Request r, ClusterState cluster, List<HostState> hosts, List<Rule> rules,
                                 Placements placements) {
        List<Verdict> verdicts = new ArrayList<>();
        for (HostState h : hosts) {
            if (r.explicitHostId() != null && !h.id().equals(r.explicitHostId())) {
                continue;
            }
            verdicts.add(judge(r, cluster, h, rules, placements));
        }
        Optional<Verdict> best = verdicts.stream().filter(Verdict::acceptable)
                .min(Comparator.<Verdict>comparingInt(v -> v.brokenShouldRules().size())
                        .thenComparing(v -> !v.hostId().equals(r.currentHostId()))
                        .thenComparingDouble(Verdict::memoryLoadAfter)
                        .thenComparing(Verdict::hostName));
        return new Decision(best.map(Verdict::hostId), verdicts);
    }

    static Verdict judge(Request r, ClusterState cluster, HostState h, List<Rule> rules, Placements placements) {
        List<String> refusals = new ArrayList<>();
        List<String> should = new ArrayList<>();
        if (!h.clusterId().equals(r.clusterId())) {
            refusals.add("in another cluster than VM '" + r.vmName() + "' (cluster " + cluster.name() + ")");
        }
        if (!h.connected()) {
            refusals.add("not reporting");
        }
        if (h.maintenance()) {
            refusals.add("in maintenance");
        }
        if (h.shuttingDown()) {
            refusals.add("shutting down");
        }
        if (r.pinnedHostId() != null && !h.id().equals(r.pinnedHostId())) {
            refusals.add("VM '" + r.vmName() + "' has its disks on the local storage of another host");
        }
        if (r.leaveCurrent() && h.id().equals(r.currentHostId())) {
            refusals.add("VM '" + r.vmName() + "' runs here already");
        }
        if (r.pinnedHostId() == null && cluster.storageDomainId() != null && h.connected()
                && !cluster.storageDomainId().equals(h.storageDomainId())) {
            refusals.add("does not see the cluster's storage domain " + cluster.storageDomainId()
                    + " (it has " + h.storageDomainId() + ")");
        }
        if (!h.cpuModels().isEmpty() && !h.cpuModels().contains(cluster.cpuModel())) {
            refusals.add("cannot run the cluster's CPU model " + cluster.cpuModel());
        }
        for (String bridge : r.bridges()) {
            if (h.connected() && !h.bridges().contains(bridge)) {
                refusals.add("has no bridge " + bridge);
            }
        }
        if (r.cpus() > h.cpus() && h.cpus() > 0) {
            refusals.add("VM has " + r.cpus() + " vCPUs, the host only " + h.cpus() + " CPUs");
        }
        long memCapacity = h.memoryCapacity(cluster.memoryOvercommit());
        boolean alreadyCounted = h.id().equals(placements.hostOfVm().get(r.vmId()));
        long committedMem = h.committedMemoryMiB() - (alreadyCounted ? r.memoryMiB() : 0);
        long committedCpus = h.committedCpus() - (alreadyCounted ? r.cpus() : 0);
        if (r.checkLoad()) {
            long cpuCapacity = h.cpuCapacity(cluster.cpuOvercommit());
            if (committedCpus + r.cpus() > cpuCapacity) {
                refusals.add("not enough CPU: " + r.cpus() + " vCPUs needed, " + Math.max(0, cpuCapacity - committedCpus)
                        + " of " + cpuCapacity + " free (" + h.cpus() + " CPUs x " + cluster.cpuOvercommit()
                        + " overcommit)");
            }
            if (committedMem + r.memoryMiB() > memCapacity) {
                refusals.add("not enough memory: " + r.memoryMiB() + " MiB needed, "
                        + Math.max(0, memCapacity - committedMem) + " of " + memCapacity + " MiB free");
            } else if (!alreadyCounted && h.connected() && r.memoryMiB() > h.memoryAvailableMiB()) {
                refusals.add("only " + h.memoryAvailableMiB() + " MiB of memory available on the host now, "
                        + r.memoryMiB() + " MiB needed");
            }
        } else if (r.memoryMiB() > memCapacity && h.memoryMiB() > 0) {
            refusals.add("VM has " + r.memoryMiB() + " MiB of memory, the host can give at most " + memCapacity);
        }
        for (Rule rule : rules) {
            if (!rule.vmIds().contains(r.vmId())) {
                continue;
            }
            String broken = breaks(rule, r.vmId(), h, placements);
            if (broken != null) {
                (rule.must() ? refusals : should).add(rule.label() + ": " + broken);
            }
        }
        double load = memCapacity <= 0 ? 1e9 : (double) (committedMem + r.memoryMiB()) / memCapacity;
        return new Verdict(h.id(), h.name(), refusals, should, load);
    }

    /** Why placing {@code vmId} on {@code h} breaks {@code rule}, or null when it does not. */
    static String breaks(Rule rule, String vmId, HostState h, Placements placements) {
        switch (rule.kind()) {
            case VM_ANTI_AFFINITY -> {
                List<String> here = new ArrayList<>();
                for (String other : rule.vmIds()) {
                    if (!other.equals(vmId) && h.id().equals(placements.hostOfVm().get(other))) {
                        here.add("'" + placements.name(other) + "'");
                    }
                }
                return here.isEmpty() ? null : "VM " + String.join(", ", here) + " runs here";
            }
            case VM_AFFINITY -> {
                List<String> elsewhere = new ArrayList<>();
                for (String other : rule.vmIds()) {
                    String at = placements.hostOfVm().get(other);
                    if (!other.equals(vmId) && at != null && !at.equals(h.id())) {
                        elsewhere.add("'" + placements.name(other) + "'");
                    }
                }
                return elsewhere.isEmpty() ? null : "VM " + String.join(", ", elsewhere) + " runs on another host";
            }
            case VM_HOST -> {
                boolean tagged = h.tags().contains(rule.hostTag());
                if (rule.avoid() && tagged) {
                    return "host is tagged " + rule.hostTag();
                }
                if (!rule.avoid() && !tagged) {
                    return "host is not tagged " + rule.hostTag();
                }
                return null;
            }
            default -> throw new IllegalStateException();
        }
    }
}
