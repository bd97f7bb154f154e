package org.carevisor.manager.migration;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiPredicate;

/**
 * The balancer's decision for one cluster: the single move that best evens out memory load, or none. Pure
 * and table-tested (BalancePlanTest), including that repeated application settles instead of moving VMs back
 * and forth.
 *
 * <p>Load of a host = memory of the VMs running on it / the memory it can give to VMs. A move is proposed
 * only when the most and least loaded hosts differ by more than the threshold. Hysteresis: (1) after the move
 * the target must not end up more loaded than the source (no overshoot, so the next run does not move it back);
 * (2) the move must shrink the difference by at least a quarter of the threshold; (3) a VM that moved within
 * the cooldown is not moved again. VMs on local storage, VMs in affinity rules and VMs the rules or resources
 * keep from a target are not moved there.
 */
public final class BalancePlan {
    /** A host of the cluster that can take VMs. */
    public record HostLoad(String id, String name, long capacityMiB, long usedMiB) {
        double load() {
            return capacityMiB <= 0 ? 1 : (double) usedMiB / capacityMiB;
        }
    }

    /** A running VM the balancer may consider. */
    public record Candidate(String id, String name, String hostId, int memoryMiB, boolean movable,
                            Instant lastMigratedAt) {
    }

    /** A proposed move with the reasoning an operator reads. */
    public record Move(String vmId, String vmName, String fromHostId, String toHostId, String why) {
    }

    private BalancePlan() {
    }

    /**
     * @param allowed whether the scheduler accepts the VM (id) on the host (id): resources and rules
     */
    public static Optional<Move> next(List<HostLoad> hosts, List<Candidate> vms, int thresholdPercent,
                                      Duration cooldown, Instant now, BiPredicate<String, String> allowed) {
        if (hosts.size() < 2) {
            return Optional.empty();
        }
        double threshold = thresholdPercent / 100.0;
        HostLoad max = hosts.stream().max(Comparator.comparingDouble(HostLoad::load)).orElseThrow();
        HostLoad min = hosts.stream().min(Comparator.comparingDouble(HostLoad::load)).orElseThrow();
        double spread = max.load() - min.load();
        if (spread <= threshold) {
            return Optional.empty();
        }
        Map<String, HostLoad> byId = new java.util.HashMap<>();
        hosts.forEach(h -> byId.put(h.id(), h));
        Move best = null;
        double bestSpread = spread;
        List<HostLoad> targets = new ArrayList<>(hosts);
        targets.sort(Comparator.comparingDouble(HostLoad::load));
        for (Candidate vm : vms) {
            if (!vm.hostId().equals(max.id()) || !vm.movable()
                    || (vm.lastMigratedAt() != null && vm.lastMigratedAt().plus(cooldown).isAfter(now))) {
                continue;
            }
            for (HostLoad target : targets) {
                if (target.id().equals(max.id())) {
                    continue;
                }
                double srcAfter = (double) (max.usedMiB() - vm.memoryMiB()) / max.capacityMiB();
                double dstAfter = (double) (target.usedMiB() + vm.memoryMiB()) / target.capacityMiB();
                if (dstAfter > srcAfter || target.usedMiB() + vm.memoryMiB() > target.capacityMiB()) {
                    continue; // would overshoot: the next run would move it back
                }
                double newSpread = spreadAfter(hosts, max.id(), srcAfter, target.id(), dstAfter);
                if (newSpread < bestSpread - threshold / 4 && allowed.test(vm.id(), target.id())) {
                    bestSpread = newSpread;
                    best = new Move(vm.id(), vm.name(), max.id(), target.id(), String.format(java.util.Locale.ROOT,
                            "memory load of host %s is %.0f%%, of host %s %.0f%% (difference %.0f points > threshold"
                                    + " %d): moving %s (%d MiB) makes them %.0f%% and %.0f%%", max.name(),
                            max.load() * 100, target.name(), target.load() * 100, spread * 100, thresholdPercent,
                            vm.name(), vm.memoryMiB(), srcAfter * 100, dstAfter * 100));
                }
            }
        }
        return Optional.ofNullable(best);
    }

    private static double spreadAfter(List<HostLoad> hosts, String src, double srcLoad, String dst, double dstLoad) {
        double hi = Double.NEGATIVE_INFINITY;
        double lo = Double.POSITIVE_INFINITY;
        for (HostLoad h : hosts) {
            double l = h.id().equals(src) ? srcLoad : h.id().equals(dst) ? dstLoad : h.load();
            hi = Math.max(hi, l);
            lo = Math.min(lo, l);
        }
        return hi - lo;
    }
}
