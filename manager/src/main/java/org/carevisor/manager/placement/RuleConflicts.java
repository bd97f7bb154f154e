package org.carevisor.manager.placement;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Finds rules that cannot all hold. Contradictions refuse the new rule (an anti-affinity between VMs that a
 * must-affinity keeps together, a tag both required and avoided, VMs kept together across clusters); what
 * only today's hosts make impossible is a warning (hosts can be tagged or added later). Pure.
 */
public final class RuleConflicts {
    /** The result: {@code conflicts} refuse the rule, {@code warnings} are shown with it. */
    public record Result(List<String> conflicts, List<String> warnings) {
    }

    /** What is known about the hosts of a cluster: their tags. */
    public record HostTags(String hostName, String clusterId, Set<String> tags) {
    }

    private RuleConflicts() {
    }

    public static Result check(List<Rule> existing, Rule candidate, Map<String, String> clusterOfVm,
                               Map<String, String> vmNames, List<HostTags> hosts) {
        List<Rule> all = new ArrayList<>(existing);
        all.add(candidate);
        List<String> conflicts = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        // VMs that must share a host, as groups (union-find over must-affinity rules)
        Map<String, String> parent = new HashMap<>();
        for (Rule r : all) {
            if (r.kind() == Rule.Kind.VM_AFFINITY && r.must()) {
                String first = null;
                for (String vm : new TreeSet<>(r.vmIds())) {
                    if (first == null) {
                        first = vm;
                    } else {
                        union(parent, first, vm);
                    }
                }
            }
        }
        for (Rule r : all) {
            if (r.kind() == Rule.Kind.VM_AFFINITY && r.must()) {
                Set<String> clusters = new TreeSet<>();
                r.vmIds().forEach(vm -> clusters.add(clusterOfVm.getOrDefault(vm, "?")));
                if (clusters.size() > 1 && involves(r, candidate)) {
                    conflicts.add(r.label() + " keeps VMs of different clusters together, but a VM runs only on"
                            + " hosts of its own cluster");
                }
            }
        }
        for (Rule anti : all) {
            if (anti.kind() != Rule.Kind.VM_ANTI_AFFINITY || !anti.must()) {
                continue;
            }
            List<String> vms = new ArrayList<>(new TreeSet<>(anti.vmIds()));
            for (int i = 0; i < vms.size(); i++) {
                for (int j = i + 1; j < vms.size(); j++) {
                    String a = vms.get(i);
                    String b = vms.get(j);
                    if (find(parent, a).equals(find(parent, b))) {
                        Rule together = all.stream().filter(r -> r.kind() == Rule.Kind.VM_AFFINITY && r.must()
                                && (r.vmIds().contains(a) || r.vmIds().contains(b))).findFirst().orElse(anti);
                        if (involves(anti, candidate) || involves(together, candidate) || candidate.kind()
                                == Rule.Kind.VM_AFFINITY) {
                            conflicts.add(anti.label() + " keeps VMs '" + vmNames.getOrDefault(a, a) + "' and '"
                                    + vmNames.getOrDefault(b, b) + "' apart, but " + together.label()
                                    + " keeps them on one host");
                        }
                    }
                }
            }
        }
        // per group of VMs that share a host: required and avoided tags
        Map<String, Set<String>> groupVms = new HashMap<>();
        for (String vm : allVms(all)) {
            groupVms.computeIfAbsent(find(parent, vm), k -> new TreeSet<>()).add(vm);
        }
        for (Set<String> group : groupVms.values()) {
            Map<String, Rule> required = new HashMap<>();
            Map<String, Rule> avoided = new HashMap<>();
            for (Rule r : all) {
                if (r.kind() == Rule.Kind.VM_HOST && r.must() && r.vmIds().stream().anyMatch(group::contains)) {
                    (r.avoid() ? avoided : required).put(r.hostTag(), r);
                }
            }
            boolean touched = group.stream().anyMatch(candidate.vmIds()::contains);
            if (!touched) {
                continue;
            }
            for (String tag : required.keySet()) {
                if (avoided.containsKey(tag)) {
                    conflicts.add(required.get(tag).label() + " and " + avoided.get(tag).label()
                            + " cannot both hold for VM " + names(group, vmNames));
                }
            }
            if (!required.isEmpty() && conflicts.isEmpty()) {
                String cluster = clusterOfVm.getOrDefault(group.iterator().next(), "?");
                boolean someHost = hosts.stream().anyMatch(h -> h.clusterId().equals(cluster)
                        && h.tags().containsAll(required.keySet())
                        && avoided.keySet().stream().noneMatch(h.tags()::contains));
                if (!someHost) {
                    warnings.add("no host of the VMs' cluster is tagged " + String.join(" and ", new TreeSet<>(required.keySet()))
                            + (avoided.isEmpty() ? "" : " without " + String.join(", ", avoided.keySet()))
                            + " yet: VM " + names(group, vmNames) + " cannot start until a host is");
                }
            }
        }
        if (candidate.kind() == Rule.Kind.VM_ANTI_AFFINITY && candidate.must()) {
            Map<String, Integer> perCluster = new HashMap<>();
            candidate.vmIds().forEach(vm -> perCluster.merge(clusterOfVm.getOrDefault(vm, "?"), 1, Integer::sum));
            perCluster.forEach((cluster, n) -> {
                long hostCount = hosts.stream().filter(h -> h.clusterId().equals(cluster)).count();
                if (n > hostCount) {
                    warnings.add(candidate.label() + " needs " + n + " hosts, the VMs' cluster has " + hostCount
                            + ": at most " + hostCount + " of them can run at once");
                }
            });
        }
        return new Result(List.copyOf(new LinkedHashSet<>(conflicts)), warnings);
    }

    private static boolean involves(Rule r, Rule candidate) {
        return r == candidate || r.vmIds().stream().anyMatch(candidate.vmIds()::contains);
    }

    private static Set<String> allVms(List<Rule> rules) {
        Set<String> out = new TreeSet<>();
        rules.forEach(r -> out.addAll(r.vmIds()));
        return out;
    }

    private static String names(Set<String> vms, Map<String, String> vmNames) {
        return String.join(", ", vms.stream().map(v -> "'" + vmNames.getOrDefault(v, v) + "'").sorted().toList());
    }

    private static String find(Map<String, String> parent, String x) {
        String p = parent.getOrDefault(x, x);
        if (p.equals(x)) {
            return x;
        }
        String root = find(parent, p);
        parent.put(x, root);
        return root;
    }

    private static void union(Map<String, String> parent, String a, String b) {
        String ra = find(parent, a);
        String rb = find(parent, b);
        if (!ra.equals(rb)) {
            parent.put(rb, ra);
        }
    }
}
