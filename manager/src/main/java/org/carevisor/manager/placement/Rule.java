package org.carevisor.manager.placement;

import java.util.List;
import java.util.Set;

/**
 * A placement rule. {@code vm-anti-affinity}: the VMs never share a host (a redundant pair);
 * {@code vm-affinity}: the VMs run on one host; {@code vm-host}: the VMs run on ({@code hostRelation}
 * {@code run-on}) or avoid ({@code avoid}) the hosts tagged {@code hostTag}. {@code must} rules block a
 * placement; {@code should} rules are followed when some host allows it.
 */
public record Rule(String id, String name, Kind kind, boolean must, Set<String> vmIds, String hostTag, boolean avoid,
                   String description) {
    public Rule {
        vmIds = Set.copyOf(vmIds);
    }

    /** The kinds of rule. */
    public enum Kind {
        VM_ANTI_AFFINITY, VM_AFFINITY, VM_HOST;

        public String json() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }

        public static Kind parse(String s) {
            for (Kind k : values()) {
                if (k.json().equals(s)) {
                    return k;
                }
            }
            return null;
        }
    }

    /** How the rule reads to an operator, e.g. "rule 'pacs-pair' (VMs apart, must)". */
    public String label() {
        String what = switch (kind) {
            case VM_ANTI_AFFINITY -> "VMs apart";
            case VM_AFFINITY -> "VMs together";
            case VM_HOST -> (avoid ? "avoid" : "run on") + " hosts tagged " + hostTag;
        };
        return "rule '" + name + "' (" + what + ", " + (must ? "must" : "should") + ")";
    }

    static final List<String> KINDS = List.of("vm-anti-affinity", "vm-affinity", "vm-host");
}
