package org.carevisor.manager.site;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * In which order an orderly site shutdown stops the VMs that run (a pure decision): the reverse of the start order
 * ({@link org.carevisor.manager.reconcile.StartOrder}). The VMs stop in waves; the VMs of a wave stop together, a
 * wave starts when the one before has stopped.
 *
 * <ul>
 *   <li>A VM stops only after every running VM that depends on it (its HA {@code depends-on}) has stopped: the
 *       application before its database.</li>
 *   <li>Among the VMs free to stop, the lowest restart priority goes first (a VM without HA counts as -1, before
 *       all HA VMs); the VMs of the lowest priority form the wave.</li>
 *   <li>Dependencies that form a cycle (HA settings refuse them, but a database edited by hand may hold one) do
 *       not block: the VMs of the cycle stop together, and the wave says so.</li>
 * </ul>
 */
public final class ShutdownOrder {
    /** A running VM: id, name, host, restart priority (-1 without HA) and the VMs it depends on. */
    public record Vm(String id, String name, String host, int priority, List<String> dependsOn) {
        public Vm {
            dependsOn = dependsOn == null ? List.of() : List.copyOf(dependsOn);
        }
    }

    /** One wave: its number (1 first), its VMs (by name) and why they stop now. */
    public record Wave(int number, List<Vm> vms, String why) {
    }

    private ShutdownOrder() {
    }

    public static List<Wave> plan(List<Vm> running) {
        Map<String, Vm> remaining = new LinkedHashMap<>();
        running.stream().sorted(Comparator.comparing(Vm::name).thenComparing(Vm::id))
                .forEach(v -> remaining.put(v.id(), v));
        List<Wave> waves = new ArrayList<>();
        while (!remaining.isEmpty()) {
            Set<String> needed = new HashSet<>();
            remaining.values().forEach(v -> needed.addAll(v.dependsOn()));
            List<Vm> free = remaining.values().stream().filter(v -> !needed.contains(v.id())).toList();
            boolean cycle = free.isEmpty();
            if (cycle) {
                free = List.copyOf(remaining.values());
            }
            int lowest = free.stream().mapToInt(Vm::priority).min().orElseThrow();
            List<Vm> wave = free.stream().filter(v -> v.priority() == lowest).toList();
            List<String> before = new ArrayList<>();
            for (Vm v : wave) {
                for (String d : v.dependsOn()) {
                    Vm dep = remaining.get(d);
                    if (dep != null && !wave.contains(dep) && !before.contains(dep.name())) {
                        before.add(dep.name());
                    }
                }
            }
            String why = (lowest < 0 ? "no HA (priority -1)" : "priority " + lowest)
                    + (before.isEmpty() ? "" : "; before " + String.join(", ", before) + " (depended on)")
                    + (cycle ? "; their dependencies form a cycle, so they stop together" : "");
            waves.add(new Wave(waves.size() + 1, wave, why));
            wave.forEach(v -> remaining.remove(v.id()));
        }
        return waves;
    }
}
