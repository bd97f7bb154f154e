package org.carevisor.manager.ha;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.carevisor.protocol.LeaseSeen;
import org.carevisor.protocol.SignedLease;

/**
 * A deterministic simulation of a cluster for {@link HaEngine}: simulated time in one-second steps,
 * hosts with power, network, storage, a freezable agent and a watchdog, fence agents that work or fail,
 * VM processes, and a manager that can be restarted (its engine rebuilt from the persisted snapshot, saved as
 * {@code HaService} saves it). The hosts behave as Carevisor's agents do: they renew their storage lease every
 * second - a real {@link SignedLease} signed with each host's own EC P-256 key -, send heartbeats carrying their
 * own lease, report the lease files of their peers, stop their HA VMs and release them (naming the run) when they
 * lose the manager for {@link #ISOLATION} (isolation response {@code power-off}), count a renewal as failed when
 * they find their lease file replaced by someone else, keep their lease with leases signed ahead while their
 * agent is stopped in order (keeper), and their watchdog kills their HA VMs when the lease was not renewed for
 * {@link #SELF_FENCE}. The manager takes the reports in through the real {@link LeaseIntake}. A host can be made a
 * rogue: it reports leases of unknown hosts, forged leases (signed with its own key), old genuine leases, hides a
 * peer's lease from its reports or overwrites the peer's lease file with an old copy. After every step the
 * invariant is checked: no VM executes on two hosts at once.
 */
final class HaSimulation {
    static final Duration ISOLATION = Duration.ofSeconds(6);
    static final Duration SELF_FENCE = Duration.ofSeconds(7);
    static final Instant EPOCH = Instant.parse("2026-01-01T00:00:00Z");
    /** The id a rogue gives the host that does not exist. */
    static final String GHOST = "ghost";

    /** A simulated host. */
    static final class Host {
        final String name;
        final KeyPair keys = keys();
        boolean power = true;
        boolean network = true;
        boolean storage = true;
        boolean agentFrozen;
        boolean agentStopped;
        boolean hostFrozen;
        boolean maintenance;
        String fence = "none";
        int capacity = 8;
        long leaseCounter;
        long lastRenew;
        long lastManagerContact;
        /** This host's lease file on the shared storage (null: none written yet). */
        String leaseFile;
        /** The lease this host's agent last wrote (its own report carries it). */
        String written;
        final Deque<String> keeperStock = new ArrayDeque<>();
        boolean tamperLogged;
        /** VMs released by the isolation response, with the run that was stopped. */
        final Map<String, Long> released = new TreeMap<>();
        final Set<String> vms = new TreeSet<>();
        /** When the running process of each VM here started (epoch ms): its run. */
        final Map<String, Long> runs = new TreeMap<>();
        /** What this host does as a rogue: behaviour -> the victim (or "" for none). */
        final Map<String, String> rogue = new LinkedHashMap<>();
        final Map<String, String> recorded = new LinkedHashMap<>();

        Host(String name) {
            this.name = name;
        }

        boolean agentRuns() {
            return power && !agentFrozen && !hostFrozen && !agentStopped;
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
    private final Map<String, Integer> refusals = new LinkedHashMap<>();
    private long end = 60;
    private long now;
    private boolean managerUp = true;
    private boolean leaveRunning;
    private int keeperStock = 3600;
    /** The engine's boot window after a manager start ("boot-window SECONDS"; default the engine's). */
    private Duration bootWindow = HaEngine.DEFAULT_BOOT_WINDOW;
    private HaEngine engine;
    private HaEngine.Snapshot persisted;
    private Instant persistedAt;
    private LeaseIntake intake;
    /** The manager's observed state of each VM's run (the database's vm_observed): vm -> host and run. */
    private final Map<String, Map.Entry<String, Long>> observedRuns = new LinkedHashMap<>();
    private final Map<String, Long> pendingFence = new LinkedHashMap<>();
    private final Map<String, Integer> fenceCalls = new LinkedHashMap<>();

    static KeyPair keys() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

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
                case "isolation" -> sim.leaveRunning = switch (w[1]) {
                    case "leave-running" -> true;
                    case "power-off" -> false;
                    default -> throw new IllegalArgumentException("unknown isolation response " + w[1]);
                };
                case "keeper-stock" -> sim.keeperStock = Integer.parseInt(w[1]);
                case "boot-window" -> sim.bootWindow = Duration.ofSeconds(Long.parseLong(w[1]));
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
        e.bootWindow(bootWindow);
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

    /** The manager's lease intake: each host's certificate key, the observed runs, refusals into the log. */
    private LeaseIntake newIntake() {
        return new LeaseIntake(id -> Optional.ofNullable(hosts.get(id))
                .map(h -> new HostKeys.HostKey(h.name, "1", h.keys.getPublic())),
                (vm, host) -> {
                    Map.Entry<String, Long> o = observedRuns.get(vm);
                    return o != null && o.getKey().equals(host) ? OptionalLong.of(o.getValue()) : OptionalLong.empty();
                },
                r -> {
                    refusals.merge(r.code(), 1, Integer::sum);
                    say("  lease refused (" + r.code() + "): " + (r.named() == null ? "" : "lease of " + r.named() + " ")
                            + "reported by " + r.reporter() + ": " + r.detail());
                });
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
        intake = newIntake();
        for (Vm v : vms.values()) {
            start(hosts.get(v.home), v.name);
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

    /** A VM's QEMU starts on {@code h}: a new run. */
    private void start(Host h, String vm) {
        h.vms.add(vm);
        h.runs.put(vm, t().toEpochMilli());
        h.released.remove(vm);
    }

    private void stop(Host h, String vm) {
        h.vms.remove(vm);
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
                h.agentStopped = false;
                h.hostFrozen = false;
                h.lastRenew = now;
                h.lastManagerContact = now;
                h.released.clear();
                h.written = null;
            }
            case "cut-network" -> hosts.get(w[1]).network = false;
            case "heal-network" -> hosts.get(w[1]).network = true;
            case "cut-storage" -> hosts.get(w[1]).storage = false;
            case "heal-storage" -> hosts.get(w[1]).storage = true;
            case "freeze-agent" -> hosts.get(w[1]).agentFrozen = true;
            case "thaw-agent" -> hosts.get(w[1]).agentFrozen = false;
            case "agent-stop" -> stopAgentInOrder(hosts.get(w[1]));
            case "agent-start" -> {
                Host h = hosts.get(w[1]);
                h.agentStopped = false;
                h.keeperStock.clear(); // the new agent removes what the keeper did not use
                h.written = null; // a new agent process: its own lease in its report once it wrote one
            }
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
                hosts.values().forEach(h -> stop(h, v.name));
                start(hosts.get(w[2]), v.name);
                if (engine != null) {
                    engine.vm(v.name, w[2], v.ha, v.priority, v.after);
                }
            }
            case "crash" -> hosts.values().forEach(h -> stop(h, w[1])); // the VM's QEMU dies
            case "manager-down" -> {
                managerUp = false;
                engine = null;
                intake = null;
            }
            case "manager-up" -> {
                managerUp = true;
                HaEngine fresh = newEngine();
                engine = fresh;
                intake = newIntake();
                fresh.restore(persisted, t());
                defineVms();
                // as HaService.start: the HA VMs are expected on their hosts (one that died unwatched is lost)
                vms.values().stream().filter(v -> v.ha).forEach(v -> fresh.expectRunning(v.name));
            }
            // a rogue: "rogue H BEHAVIOUR [VICTIM [VM]]", "rogue H honest" ends every behaviour
            case "rogue" -> {
                Host r = hosts.get(w[1]);
                if (w[2].equals("honest")) {
                    r.rogue.clear();
                } else {
                    r.rogue.put(w[2], w.length > 3 ? String.join(" ", Arrays.copyOfRange(w, 3, w.length)) : "");
                    if (w[2].equals("replay")) {
                        r.recorded.put(w[3], hosts.get(w[3]).leaseFile); // a genuine lease as it is now
                    }
                }
            }
            case "record" -> hosts.get(w[1]).recorded.put(w[2], hosts.get(w[2]).leaseFile);
            default -> throw new IllegalArgumentException("unknown event " + ev);
        }
    }

    /** The agent stops in order: it signs the keeper's stock; its VMs run on; the watchdog keeps the lease. */
    private void stopAgentInOrder(Host h) {
        h.agentStopped = true;
        h.keeperStock.clear();
        for (int i = 1; i <= keeperStock; i++) {
            h.keeperStock.add(new SignedLease(h.name, h.leaseCounter + i, t().plusSeconds(i), SignedLease.KEEPER,
                    released(h), "https://" + h.name + ":7701").sign(h.keys.getPrivate()));
        }
        say("  " + h.name + " agent stopped in order: " + keeperStock + " keeper lease(s) signed ahead");
    }

    private static List<SignedLease.Released> released(Host h) {
        return h.released.entrySet().stream().map(e -> new SignedLease.Released(e.getKey(), e.getValue())).toList();
    }

    private void powerOff(Host h) {
        h.power = false;
        if (!h.vms.isEmpty()) {
            say("  " + h.name + " is off; its VMs " + h.vms + " are gone");
        }
        h.vms.clear();
    }

    /**
     * Agents renew leases (finding their lease file replaced counts as a failed renewal), keepers write their signed
     * stock, hosts apply the isolation response, watchdogs self-fence; rogues overwrite lease files.
     */
    private void hostsAct() {
        for (Host h : hosts.values()) {
            if (!h.power || h.hostFrozen) {
                continue;
            }
            if (!h.agentFrozen && !h.agentStopped && h.storage) {
                boolean replaced = h.written != null && (h.leaseFile == null
                        || SignedLease.parse(h.leaseFile).counter() < h.leaseCounter);
                h.leaseCounter++;
                h.written = new SignedLease(h.name, h.leaseCounter, t(), SignedLease.AGENT, released(h),
                        "https://" + h.name + ":7701").sign(h.keys.getPrivate());
                h.leaseFile = h.written;
                if (!replaced) {
                    h.lastRenew = now;
                    h.tamperLogged = false;
                } else if (!h.tamperLogged) {
                    h.tamperLogged = true;
                    say("  " + h.name + " finds its lease file replaced by another writer: renewals do not count");
                }
            }
            if (h.agentStopped && h.storage && !h.agentFrozen && !h.keeperStock.isEmpty()) {
                String next = h.keeperStock.removeFirst();
                h.leaseCounter = SignedLease.parse(next).counter();
                h.leaseFile = next;
                h.lastRenew = now;
                if (h.keeperStock.isEmpty()) {
                    say("  " + h.name + " keeper wrote its last lease signed ahead");
                }
            }
            if (h.agentRuns() && h.network && managerUp) {
                h.lastManagerContact = now;
                h.released.clear();
            }
            if (h.agentRuns() && !h.network && now - h.lastManagerContact >= ISOLATION.toSeconds() && !leaveRunning) {
                Set<String> stop = new TreeSet<>();
                for (String vm : h.vms) {
                    if (vms.get(vm).ha) {
                        stop.add(vm);
                    }
                }
                if (!stop.isEmpty()) {
                    stop.forEach(vm -> {
                        stop(h, vm);
                        h.released.put(vm, h.runs.get(vm));
                    });
                    say("  " + h.name + " lost the manager for " + ISOLATION.toSeconds() + " s: isolation response stops "
                            + stop);
                }
            }
            watchdog(h);
        }
        // a rogue that can write the storage puts back an old copy of its victim's lease file after each renewal
        for (Host r : hosts.values()) {
            String victim = r.rogue.get("overwrite");
            if (victim != null && r.power && r.storage && r.recorded.get(victim) != null) {
                hosts.get(victim).leaseFile = r.recorded.get(victim);
            }
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
                stop.forEach(vm -> stop(h, vm));
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
                // a heartbeat carries the host's own lease as its agent last wrote it
                List<LeaseSeen> own = h.written == null ? List.of() : List.of(seen(h.written));
                intake.accept(h.name, rogueReport(h, own), engine, t());
                h.vms.forEach(vm -> observedRuns.put(vm, Map.entry(h.name, h.runs.get(vm))));
                for (String d : print(engine.heartbeat(h.name, Set.copyOf(h.vms), t()))) {
                    act(d);
                }
            }
        }
        // peers read each lease file from the shared storage and report it
        for (Host p : hosts.values()) {
            if (p.agentRuns() && p.storage && p.network) {
                List<LeaseSeen> read = new ArrayList<>();
                for (Host x : hosts.values()) {
                    if (x != p && x.leaseFile != null) {
                        read.add(seen(x.leaseFile));
                    }
                }
                intake.accept(p.name, rogueReport(p, read), engine, t());
            }
        }
        for (String d : print(engine.tick(t()))) {
            act(d);
        }
        HaEngine.Snapshot s = engine.snapshot();
        if (s.worthSaving(persisted, persistedAt, t())) {
            persisted = s;
            persistedAt = t();
        }
    }

    private static LeaseSeen seen(String text) {
        return SignedLease.parse(text).seen(text);
    }

    /** What a rogue reports instead of {@code honest}. */
    private List<LeaseSeen> rogueReport(Host r, List<LeaseSeen> honest) {
        if (r.rogue.isEmpty()) {
            return honest;
        }
        List<LeaseSeen> out = new ArrayList<>();
        Set<String> replaced = new LinkedHashSet<>();
        for (Map.Entry<String, String> b : r.rogue.entrySet()) {
            String[] arg = b.getValue().isEmpty() ? new String[0] : b.getValue().split(" ");
            switch (b.getKey()) {
                case "unknown-host" -> out.add(seen(new SignedLease(GHOST, now, t(), SignedLease.AGENT, List.of(),
                        null).sign(r.keys.getPrivate())));
                case "forge-released" -> { // the victim's lease renewing and releasing a VM, signed with the rogue's key
                    Host v = hosts.get(arg[0]);
                    replaced.add(v.name);
                    Long run = v.runs.get(arg[1]);
                    out.add(seen(new SignedLease(v.name, v.leaseCounter + 1, t(), SignedLease.AGENT,
                            List.of(new SignedLease.Released(arg[1], run == null ? 0 : run)), null)
                            .sign(r.keys.getPrivate())));
                }
                case "forge-counter" -> { // the victim's lease with a huge counter, signed with the rogue's key
                    Host v = hosts.get(arg[0]);
                    replaced.add(v.name);
                    out.add(seen(new SignedLease(v.name, Long.MAX_VALUE - 1, t(), SignedLease.AGENT, List.of(), null)
                            .sign(r.keys.getPrivate())));
                }
                case "unsigned" -> { // the victim's lease renewing, without a signature
                    Host v = hosts.get(arg[0]);
                    replaced.add(v.name);
                    out.add(new LeaseSeen(v.name, v.leaseCounter + 1, t(), SignedLease.AGENT, List.of(arg[1]),
                            new SignedLease(v.name, v.leaseCounter + 1, t(), SignedLease.AGENT, List.of(
                                    new SignedLease.Released(arg[1], 0)), null).body()));
                }
                case "replay" -> { // an old genuine lease of the victim instead of the current one
                    replaced.add(arg[0]);
                    if (r.recorded.get(arg[0]) != null) {
                        out.add(seen(r.recorded.get(arg[0])));
                    }
                }
                case "hide" -> replaced.add(arg[0]); // the victim's lease left out
                case "overwrite" -> {
                    // acts on the storage (hostsAct); reports honestly what it reads there
                }
                default -> throw new IllegalArgumentException("unknown rogue behaviour " + b.getKey());
            }
        }
        for (LeaseSeen l : honest) {
            if (!replaced.contains(l.hostId())) {
                out.add(l);
            }
        }
        return out;
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
                    start(h, w[2]);
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
            case "refused" -> refusals.getOrDefault(x[2], 0) == Integer.parseInt(x[3]);
            default -> throw new IllegalArgumentException("unknown expectation " + what);
        };
        say((ok ? "ok: " : "EXPECTATION FAILED: ") + what);
        if (!ok) {
            failures.add("expect " + what);
        }
    }
}
