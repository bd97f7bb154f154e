package org.carevisor.manager.ha;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A deterministic simulation of a cluster for {@link HaEngine}: simulated time in one-second steps,
 * hosts with power, network, storage, a freezable agent and a watchdog, fence agents that work or fail,
 * VM processes, and a manager that can be restarted (its engine rebuilt from the persisted snapshot).
 * The hosts behave as Carevisor's agents do: they renew their storage lease every second, send heartbeats,
 * stop their HA VMs and release them when they lose the manager for {@link #ISOLATION} (isolation
 * response), and their watchdog kills their HA VMs when the lease was not renewed for {@link #SELF_FENCE}.
 * After every step the invariant is checked: no VM executes on two hosts at once.
 */
final class HaSimulation {
    static final Duration ISOLATION = Duration.ofSeconds(6);
    static final Duration SELF_FENCE = Duration.ofSeconds(7);
    static final Instant EPOCH = Instant.parse("2026-01-01T00:00:00Z");

    /** A simulated host. */
    static final class Host {
        final String name;
        boolean power = true;
        boolean network = true;
        boolean storage = true;
        boolean agentFrozen;
        boolean hostFrozen;
        boolean maintenance;
        String fence = "none";
        int capacity = 8;
        long leaseCounter;
        long lastRenew;
        long lastManagerContact;
        final Set<String> released = new TreeSet<>();
        final Set<String> vms = new TreeSet<>();

        Host(String name) {
            this.name = name;
        }

        boolean agentRuns() {
            return power && !agentFrozen && !hostFrozen;
        }
    }

    /** A simulated VM definition. */
    record Vm(String name, String home, boolean ha, int priority, List<String> after, int maxRestarts) {
    }

    final Map<String, Host> hosts = new LinkedHashMap<>();
    final Map<String, Vm> vms = new LinkedHashMap<>();
    final List<String> log = new ArrayList<>();
    final List<String> failures = new ArrayList<>();
    private final TreeMap<Long, List<String>> events = new TreeMap<>();
    private final List<String[]> expectations = new ArrayList<>();
    private long end = 60;
    private long now;
    private boolean managerUp = true;
    private HaEngine engine;
    private HaEngine.Snapshot persisted;
    private final Map<String, Long> pendingFence = new LinkedHashMap<>();
    private final Map<String, Integer> fenceCalls = new LinkedHashMap<>();

    static HaSimulation parse(List<String> lines) {
        HaSimulation sim = new HaSimulation();
        for (String raw : lines) {
            String line = raw.replaceAll("#.*", "").strip();
            if (line.isEmpty()) {
                continue;
            }
            String[] w = line.split("\\s+");
            switch (w[0]) {
                case "hosts" -> Arrays.stream(w).skip(1).forEach(n -> sim.hosts.put(n, new Host(n)));
                case "fence" -> sim.hosts.get(w[1]).fence = w[2];
                case "capacity" -> sim.hosts.get(w[1]).capacity = Integer.parseInt(w[2]);
                case "vm" -> {
                    boolean ha = false;
                    int priority = 0;
                    int maxRestarts = 3;
                    List<String> after = List.of();
                    for (int i = 3; i < w.length; i++) {
                        if (w[i].equals("ha")) {
                            ha = true;
                        } else if (w[i].startsWith("priority=")) {
                            priority = Integer.parseInt(w[i].substring(9));
                        } else if (w[i].startsWith("after=")) {
                            after = List.of(w[i].substring(6).split(","));
                        } else if (w[i].startsWith("max-restarts=")) {
                            maxRestarts = Integer.parseInt(w[i].substring(13));
                        } else {
                            throw new IllegalArgumentException("unknown vm option " + w[i]);
                        }
                    }
                    sim.vms.put(w[1], new Vm(w[1], w[2], ha, priority, after, maxRestarts));
                }
                case "at" -> sim.events.computeIfAbsent(Long.parseLong(w[1]), k -> new ArrayList<>())
                        .add(String.join(" ", Arrays.copyOfRange(w, 2, w.length)));
                case "expect" -> sim.expectations.add(Arrays.copyOfRange(w, 1, w.length));
                case "end" -> sim.end = Long.parseLong(w[1]);
                default -> throw new IllegalArgumentException("unknown scenario line: " + raw);
            }
        }
        return sim;
    }

    private Instant t() {
        return EPOCH.plusSeconds(now);
    }

    private HaEngine newEngine() {
        HaEngine e = new HaEngine(HaEngine.Config.defaults());
        e.placer((vm, up) -> up.stream().map(hosts::get)
                .filter(h -> h.vms.size() + restartsTo(h.name) < h.capacity)
                .min((a, b) -> a.vms.size() != b.vms.size() ? Integer.compare(a.vms.size(), b.vms.size())
                        : a.name.compareTo(b.name))
                .map(h -> h.name));
        for (Host h : hosts.values()) {
            e.host(h.name, !h.fence.equals("none"), h.maintenance, t());
        }
        return e;
    }

    private int restartsTo(String host) {
        int n = 0;
        for (Vm v : vms.values()) {
            HaEngine.VmState s = engine.vmState(v.name);
            if (s != null && host.equals(s.restartingOn)) {
                n++;
            }
        }
        return n;
    }

    private void defineVms() {
        for (Vm v : vms.values()) {
            HaEngine.VmState s = engine.vmState(v.name);
            String host = s != null && s.host != null ? s.host : v.home;
            engine.vm(v.name, host, v.ha, v.priority, v.after);
            engine.restartLimit(v.name, v.maxRestarts);
        }
    }

    List<String> run() {
        engine = newEngine();
        for (Vm v : vms.values()) {
            hosts.get(v.home).vms.add(v.name);
        }
        defineVms();
        for (now = 0; now <= end; now++) {
            for (String ev : events.getOrDefault(now, List.of())) {
                apply(ev);
            }
            hostsAct();
            if (managerUp) {
                managerActs();
            }
            check();
            for (String[] x : expectations) {
                if (Long.parseLong(x[0]) == now) {
                    expect(x);
                }
            }
        }
        return log;
    }

    private void say(String text) {
        log.add(String.format("[t=%3d] %s", now, text));
    }

    private void apply(String ev) {
        say("event " + ev);
        String[] w = ev.split(" ");
        switch (w[0]) {
            case "power-off" -> powerOff(hosts.get(w[1]));
            case "power-on" -> {
                Host h = hosts.get(w[1]);
                h.power = true;
                h.agentFrozen = false;
                h.hostFrozen = false;
                h.lastRenew = now;
                h.lastManagerContact = now;
                h.released.clear();
            }
            case "cut-network" -> hosts.get(w[1]).network = false;
            case "heal-network" -> hosts.get(w[1]).network = true;
            case "cut-storage" -> hosts.get(w[1]).storage = false;
            case "heal-storage" -> hosts.get(w[1]).storage = true;
            case "freeze-agent" -> hosts.get(w[1]).agentFrozen = true;
            case "thaw-agent" -> hosts.get(w[1]).agentFrozen = false;
            case "freeze-host" -> hosts.get(w[1]).hostFrozen = true;
            case "thaw-host" -> {
                Host h = hosts.get(w[1]);
                h.hostFrozen = false;
                watchdog(h); // the watchdog runs before the guests get CPU time again
            }
            case "fence-agent" -> hosts.get(w[1]).fence = w[2];
            case "maintenance-on", "maintenance-off" -> {
                Host h = hosts.get(w[1]);
                h.maintenance = w[0].equals("maintenance-on");
                if (engine != null) {
                    engine.host(h.name, !h.fence.equals("none"), h.maintenance, t());
                }
            }
            case "migrate" -> { // a live migration: the VM runs on the target from now on
                Vm v = vms.get(w[1]);
                hosts.values().forEach(h -> h.vms.remove(v.name));
                hosts.get(w[2]).vms.add(v.name);
                if (engine != null) {
                    engine.vm(v.name, w[2], v.ha, v.priority, v.after);
                }
            }
            case "crash" -> hosts.values().forEach(h -> h.vms.remove(w[1])); // the VM's QEMU dies
            case "manager-down" -> {
                persisted = engine.snapshot();
                managerUp = false;
                engine = null;
            }
            case "manager-up" -> {
                managerUp = true;
                HaEngine fresh = newEngine();
                engine = fresh;
                fresh.restore(persisted, t());
                defineVms();
            }
            default -> throw new IllegalArgumentException("unknown event " + ev);
        }
    }

    private void powerOff(Host h) {
        h.power = false;
        if (!h.vms.isEmpty()) {
            say("  " + h.name + " is off; its VMs " + h.vms + " are gone");
        }
        h.vms.clear();
    }

    /** Agents renew leases, send heartbeats, apply the isolation response; watchdogs self-fence. */
    private void hostsAct() {
        for (Host h : hosts.values()) {
            if (!h.power || h.hostFrozen) {
                continue;
            }
            if (!h.agentFrozen && h.storage) {
                h.leaseCounter++;
                h.lastRenew = now;
            }
            if (!h.agentFrozen && h.network && managerUp) {
                h.lastManagerContact = now;
                h.released.clear();
            }
            if (!h.agentFrozen && !h.network && now - h.lastManagerContact >= ISOLATION.toSeconds()) {
                Set<String> stop = new TreeSet<>();
                for (String vm : h.vms) {
                    if (vms.get(vm).ha) {
                        stop.add(vm);
                    }
                }
                if (!stop.isEmpty()) {
                    h.vms.removeAll(stop);
                    h.released.addAll(stop);
                    say("  " + h.name + " lost the manager for " + ISOLATION.toSeconds() + " s: isolation response stops "
                            + stop);
                }
            }
            watchdog(h);
        }
    }

    private void watchdog(Host h) {
        if (now - h.lastRenew >= SELF_FENCE.toSeconds()) {
            Set<String> stop = new TreeSet<>();
            for (String vm : h.vms) {
                if (vms.get(vm).ha) {
                    stop.add(vm);
                }
            }
            if (!stop.isEmpty()) {
                h.vms.removeAll(stop);
                say("  " + h.name + " watchdog: lease not renewed for " + (now - h.lastRenew) + " s, kills " + stop);
            }
        }
    }

    private void managerActs() {
        // fencing results from the previous step
        for (Map.Entry<String, Long> f : new ArrayList<>(pendingFence.entrySet())) {
            Host h = hosts.get(f.getKey());
            boolean ok = h.fence.equals("ok");
            if (ok) {
                powerOff(h);
            }
            engine.fenceResult(h.name, ok, t());
            say("  fence agent of " + h.name + (ok ? " powered it off" : " failed"));
            pendingFence.remove(f.getKey());
        }
        for (Host h : hosts.values()) {
            if (h.agentRuns() && h.network) {
                // a heartbeat carries the host's own lease counter (it knows whether its renewals work)
                engine.lease(h.name, h.leaseCounter, Set.copyOf(h.released), t());
                for (String d : print(engine.heartbeat(h.name, Set.copyOf(h.vms), t()))) {
                    act(d);
                }
            }
        }
        // peers read each lease file from the shared storage and report it
        for (Host x : hosts.values()) {
            boolean seen = hosts.values().stream().anyMatch(p -> p != x && p.agentRuns() && p.storage && p.network);
            if (seen) {
                engine.lease(x.name, x.leaseCounter, Set.copyOf(x.released), t());
            }
        }
        for (String d : print(engine.tick(t()))) {
            act(d);
        }
    }

    private List<String> print(List<HaEngine.Decision> ds) {
        List<String> out = new ArrayList<>();
        for (HaEngine.Decision d : ds) {
            say("decision " + d);
            out.add(d.kind().name() + " " + d.host() + " " + d.vm());
        }
        return out;
    }

    private void act(String d) {
        String[] w = d.split(" ");
        Host h = w[1].equals("null") ? null : hosts.get(w[1]);
        switch (w[0]) {
            case "FENCE" -> {
                pendingFence.put(h.name, now);
                fenceCalls.merge(h.name, 1, Integer::sum);
            }
            case "RESTART" -> {
                if (h.agentRuns() && h.network) {
                    h.vms.add(w[2]);
                } else {
                    engine.restartFailed(w[2], h.name, t());
                    say("  restart of " + w[2] + " on " + h.name + " failed: host unreachable");
                }
            }
            case "STOP_STRAY" -> {
                if (h.vms.remove(w[2])) {
                    say("  " + h.name + " stopped stray " + w[2]);
                }
            }
            default -> {
            }
        }
    }

    /** The invariant: no VM executes on two hosts at once. */
    private void check() {
        Map<String, List<String>> where = new TreeMap<>();
        for (Host h : hosts.values()) {
            if (!h.power || h.hostFrozen) {
                continue;
            }
            for (String vm : h.vms) {
                where.computeIfAbsent(vm, k -> new ArrayList<>()).add(h.name);
            }
        }
        where.forEach((vm, on) -> {
            if (on.size() > 1) {
                failures.add("t=" + now + ": VM " + vm + " runs on " + on);
                say("INVARIANT BROKEN: VM " + vm + " runs on " + on);
            }
        });
    }

    private void expect(String[] x) {
        String what = String.join(" ", x);
        boolean ok = switch (x[1]) {
            case "running" -> {
                Set<String> allowed = new LinkedHashSet<>(List.of(x[3].split("\\|")));
                Optional<Host> on = hosts.values().stream().filter(h -> h.power && !h.hostFrozen && h.vms.contains(x[2])).findFirst();
                yield on.isPresent() && (x[3].equals("*") || allowed.contains(on.get().name));
            }
            case "stopped" -> hosts.values().stream().noneMatch(h -> h.power && !h.hostFrozen && h.vms.contains(x[2]));
            case "health" -> engine != null && String.valueOf(engine.health(x[2])).equalsIgnoreCase(x[3]);
            case "fence-calls" -> fenceCalls.getOrDefault(x[2], 0) == Integer.parseInt(x[3]);
            default -> throw new IllegalArgumentException("unknown expectation " + what);
        };
        say((ok ? "ok: " : "EXPECTATION FAILED: ") + what);
        if (!ok) {
            failures.add("expect " + what);
        }
    }
}
