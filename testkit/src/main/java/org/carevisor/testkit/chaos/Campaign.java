package org.carevisor.testkit.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A randomized fault campaign (after Jepsen and Pacemaker's CTS): rounds of one fault from the menu, held for a
 * random time, healed, then a wait until the system has converged again (every VM meant to run answers, the
 * manager's view matches the processes). Meanwhile a writer makes every guest write its disk counter, an operator
 * runs random actions (snapshots, migrations, stop and start, maintenance), and the {@link Invariant.When#ALWAYS}
 * invariants are checked about once a second. Everything random comes from one seed: the same seed picks the same
 * faults, targets, holds and actions again (timing still varies with the machine).
 */
public final class Campaign {
    /**
     * @param seed          the seed of every random choice
     * @param duration      how long to inject faults (the last round finishes)
     * @param maxRounds     at most this many faults (0: unbounded)
     * @param converge      how long the system may take to converge after a heal
     * @param operatorVms   VMs the operator may stop and start (not HA-protected)
     */
    public record Config(long seed, Duration duration, int maxRounds, Duration converge, List<String> operatorVms) {
    }

    /** One injected fault: what it was, how long the system took to converge after the heal (NaN: it did not). */
    public record Round(int n, String kind, String what, double holdSeconds, double convergeSeconds) {
    }

    /** The outcome: the rounds, the violations (goal: none), VMs that never came back and operator actions. */
    public record Report(long seed, List<Round> rounds, List<String> violations, List<String> lost,
                         Map<String, Integer> actions) {
        public boolean ok() {
            return violations.isEmpty() && lost.isEmpty();
        }
    }

    private final ChaosLab lab;
    private final List<Fault> faults;
    private final List<Invariant> invariants;
    private final Config config;
    private final Consumer<String> log;
    private final List<String> violations = Collections.synchronizedList(new ArrayList<>());
    private final Map<String, Integer> actions = new ConcurrentHashMap<>();
    private final AtomicBoolean faulty = new AtomicBoolean();
    /** While set the operator starts nothing new (the campaign checks convergence). */
    private final AtomicBoolean operatorPaused = new AtomicBoolean();
    /** Set while the operator runs an action (a maintenance lasts until it has left it again). */
    private final AtomicBoolean operatorBusy = new AtomicBoolean();

    public Campaign(ChaosLab lab, List<Fault> faults, List<Invariant> invariants, Config config,
                    Consumer<String> log) {
        this.lab = lab;
        this.faults = List.copyOf(faults);
        this.invariants = List.copyOf(invariants);
        this.config = config;
        this.log = log;
    }

    public Report run() throws Exception {
        Random rnd = new Random(config.seed());
        log.accept("chaos campaign seed " + config.seed() + " (replay: the same seed), faults "
                + faults.stream().map(Fault::kind).toList());
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = List.of(
                Thread.ofPlatform().name("chaos-writer").daemon().start(() -> writer(stop)),
                Thread.ofPlatform().name("chaos-checker").daemon().start(() -> checker(stop)),
                Thread.ofPlatform().name("chaos-operator").daemon().start(() -> operator(stop,
                        new Random(config.seed() * 31 + 7))));
        List<Round> rounds = new ArrayList<>();
        List<String> lost = new ArrayList<>();
        Instant end = Instant.now().plus(config.duration());
        try {
            awaitConverged(config.converge(), "before the first fault");
            int n = 0;
            while (Instant.now().isBefore(end) && (config.maxRounds() == 0 || n < config.maxRounds())) {
                n++;
                List<Fault> now = faults.stream().filter(f -> f.applicable(lab)).toList();
                Fault f = now.get(rnd.nextInt(now.size()));
                double hold = 2 + rnd.nextInt(14);
                faulty.set(true);
                Fault.Heal heal;
                try {
                    heal = f.inject(lab, rnd);
                } catch (Exception e) { // the harness could not inject it: reported, never passed over
                    violation("harness: round " + n + " (" + f.kind() + ") could not be injected: " + e);
                    heal = Fault.heal(f.kind() + " (not injected)", () -> { });
                }
                log.accept(String.format("round %d: %s: %s; healing after %.0f s", n, f.kind(), heal.what(), hold));
                Thread.sleep((long) (hold * 1000));
                try {
                    heal.heal();
                } catch (Exception e) {
                    violation("harness: round " + n + " (" + f.kind() + ") could not be healed: " + e);
                }
                Instant healed = Instant.now();
                pauseOperator();
                List<String> stuck = awaitConverged(config.converge(), "after round " + n + " (" + f.kind() + ")");
                double took = stuck.isEmpty() ? Duration.between(healed, Instant.now()).toMillis() / 1000.0 : Double.NaN;
                faulty.set(false);
                for (Invariant inv : invariants) {
                    if (inv.when() == Invariant.When.CONVERGED) {
                        check(inv, "after round " + n + " (" + f.kind() + ")");
                    }
                }
                if (!stuck.isEmpty()) {
                    violation("after round " + n + " (" + f.kind() + ") not converged within "
                            + config.converge().toSeconds() + " s: " + stuck);
                }
                operatorPaused.set(false);
                rounds.add(new Round(n, f.kind(), heal.what(), hold, took));
                log.accept(String.format("round %d: converged %s", n, stuck.isEmpty() ? took + " s after the heal"
                        : "NOT within " + config.converge().toSeconds() + " s"));
            }
        } finally {
            stop.set(true);
            for (Thread t : threads) {
                t.join(30_000);
            }
        }
        operatorPaused.set(true);
        lost.addAll(awaitConverged(config.converge(), "at the end"));
        for (Invariant inv : invariants) {
            if (inv.when() != Invariant.When.ALWAYS) {
                check(inv, "at the end");
            }
        }
        return new Report(config.seed(), rounds, List.copyOf(violations), lost, new LinkedHashMap<>(actions));
    }

    /**
     * Waits until no task runs and the manager's view of every campaign VM matches ({@link ChaosLab#mismatches}:
     * the VMs meant to run answer and show running with one QEMU); returns what is still not so after {@code limit}
     * (empty: converged).
     */
    private List<String> awaitConverged(Duration limit, String when) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        List<String> missing;
        do {
            missing = new ArrayList<>();
            bootFencedHosts();
            List<JsonNode> vms = lab.vms().orElse(null);
            if (vms == null) {
                missing.add("manager");
            } else {
                try {
                    for (JsonNode t : lab.api().get("/api/v1/tasks?limit=100").json()) {
                        String st = t.path("state").asText();
                        if (st.equals("running") || st.equals("queued")) {
                            missing.add("task " + t.path("kind").asText() + " " + st);
                        }
                    }
                } catch (RuntimeException e) {
                    missing.add("manager (tasks)");
                }
                for (JsonNode v : vms) {
                    missing.addAll(lab.mismatches(v));
                }
            }
            if (missing.isEmpty()) {
                return missing;
            }
            Thread.sleep(500);
        } while (System.nanoTime() < deadline);
        log.accept("not converged " + when + ": " + missing);
        return missing;
    }

    /**
     * A host whose agent does not run after the heal was fenced by HA (the lab's fence kills every process of the
     * host and leaves it off): it is switched on again, as an IPMI "reboot" fence or the on-call technician would.
     * Counted, so a campaign shows how often HA fenced.
     */
    private void bootFencedHosts() {
        for (int h = 0; h < lab.hostCount(); h++) {
            if (lab.agentPid(h).isPresent()) {
                continue;
            }
            try {
                lab.ensureAgent(h);
                actions.merge("host booted after a fence", 1, Integer::sum);
                log.accept("host " + h + " was off after the heal (fenced); switched on again");
            } catch (Exception e) {
                log.accept("host " + h + " could not be started again: " + e.getMessage());
            }
        }
    }

    /** Lets the operator finish what it does and start nothing new (at most 5 min). */
    private void pauseOperator() throws InterruptedException {
        operatorPaused.set(true);
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        while (operatorBusy.get() && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
    }

    private void writer(AtomicBoolean stop) {
        while (!stop.get()) {
            for (String vm : lab.guests()) {
                try {
                    lab.write(vm);
                } catch (Exception e) {
                    // not answering now
                }
            }
            sleep(300);
        }
    }

    private void checker(AtomicBoolean stop) {
        while (!stop.get()) {
            for (Invariant inv : invariants) {
                if (inv.when() == Invariant.When.ALWAYS) {
                    check(inv, faulty.get() ? "during a fault" : "between faults");
                }
            }
            sleep(1000);
        }
    }

    private void check(Invariant inv, String when) {
        try {
            for (String v : inv.check(lab)) {
                violation(inv.name() + " " + when + ": " + v);
            }
        } catch (Exception e) {
            // the manager restarts or a host is away: the check runs again
        }
    }

    private void violation(String v) {
        violations.add(Instant.now() + " " + v);
        log.accept("VIOLATION " + v);
    }

    /** Random operator actions; refusals (a host away, a VM busy) are counted, not violations. */
    private void operator(AtomicBoolean stop, Random rnd) {
        AtomicInteger snap = new AtomicInteger();
        while (!stop.get()) {
            sleep(4000 + rnd.nextInt(8000));
            if (stop.get()) {
                return;
            }
            if (operatorPaused.get()) {
                continue;
            }
            operatorBusy.set(true);
            if (operatorPaused.get()) {
                operatorBusy.set(false);
                continue;
            }
            String vm = lab.guests().get(rnd.nextInt(lab.guests().size()));
            String action;
            int status;
            try {
                switch (rnd.nextInt(4)) {
                    case 0 -> {
                        action = "snapshot";
                        status = lab.api().post("/api/v1/vms/" + vm + "/snapshots", "{\"name\":\"chaos-"
                                + snap.incrementAndGet() + "\"}").status();
                    }
                    case 1 -> {
                        action = "migrate";
                        status = lab.api().post("/api/v1/vms/" + vm + "/migrate", "{\"reason\":\"chaos\"}").status();
                    }
                    case 2 -> {
                        if (config.operatorVms().isEmpty()) {
                            operatorBusy.set(false);
                            continue;
                        }
                        String o = config.operatorVms().get(rnd.nextInt(config.operatorVms().size()));
                        boolean running = lab.lab().vm(o).path("powerState").asText().equals("running");
                        action = running ? "shutdown" : "start";
                        status = lab.api().post("/api/v1/vms/" + o + "/" + action, null).status();
                    }
                    default -> {
                        int h = rnd.nextInt(lab.hostCount());
                        String host = lab.lab().host(h).name();
                        action = "maintenance";
                        status = lab.api().post("/api/v1/hosts/" + host + "/maintenance",
                                "{\"reason\":\"chaos\"}").status();
                        sleep(3000 + rnd.nextInt(10_000));
                        lab.api().delete("/api/v1/hosts/" + host + "/maintenance");
                    }
                }
            } catch (RuntimeException e) {
                action = "unreachable";
                status = 0;
            }
            actions.merge(action + " " + (status == 202 || status == 200 ? "accepted" : "refused"), 1, Integer::sum);
            operatorBusy.set(false);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
