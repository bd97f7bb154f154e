package org.carevisor.manager.reconcile;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which of the VMs the reconcile loop would start may start now (a pure decision): after an outage many VMs
 * whose desired state is running come back at once, and starting them all at the same moment would overload the
 * host that is back first and start applications before the databases they need.
 *
 * <ul>
 *   <li>Higher restart priority first (the VM's HA priority; a VM without HA counts as priority -1, after all HA
 *       VMs), then by name.</li>
 *   <li>A VM waits for the VMs it depends on (its HA {@code depends-on}) that are about to start, are starting, or
 *       ran for less than {@code settle}.</li>
 *   <li>It also waits for a dependency that is meant to run but cannot start yet ({@code awaited}: its host is not
 *       back after a site shutdown or an outage, or its start is retried after a failure), for at most
 *       {@code maxWait} since the VM became a candidate; then it starts without it (a lost host must not keep the
 *       application off for good). A dependency that is not meant to run (desired state stopped) is not waited
 *       for.</li>
 *   <li>At most {@code perHost} VMs boot on one host at a time: a VM counts as booting from its start until it has
 *       run for {@code settle}.</li>
 * </ul>
 */
public final class StartOrder {
    /** How long a started VM counts as booting (for the per-host limit and for the VMs that depend on it). */
    public static final Duration DEFAULT_SETTLE = Duration.ofSeconds(10);
    /** How many VMs boot on one host at a time. */
    public static final int DEFAULT_PER_HOST = 2;
    /** How long a VM waits for a dependency that is meant to run but whose host is not back. */
    public static final Duration DEFAULT_MAX_WAIT = Duration.ofMinutes(10);

    /**
     * A VM the loop would start: its id and name, host, restart priority (-1 without HA), the VMs it depends on and
     * since when it is a candidate ({@code null}: from now).
     */
    public record Candidate(String id, String name, String host, int priority, List<String> dependsOn,
                            Instant since) {
        public Candidate {
            dependsOn = dependsOn == null ? List.of() : List.copyOf(dependsOn);
        }

        public Candidate(String id, String name, String host, int priority, List<String> dependsOn) {
            this(id, name, host, priority, dependsOn, null);
        }
    }

    /** A VM that runs: its host, since when (its QEMU's start; {@code null} while starting) and its name. */
    public record Running(String host, Instant since, String name) {
        public Running(String host, Instant since) {
            this(host, since, null);
        }
    }

    /** What becomes of one candidate: started now, or waiting (and why). */
    public record Verdict(Candidate vm, boolean start, String why) {
    }

    private StartOrder() {
    }

    /**
     * Decides for every candidate, in start order.
     *
     * @param candidates VMs the loop would start
     * @param running    VMs that run now (by id)
     * @param now        the time of the decision
     */
    public static List<Verdict> decide(List<Candidate> candidates, Map<String, Running> running, Instant now,
                                       Duration settle, int perHost) {
        return decide(candidates, running, Map.of(), now, settle, perHost, DEFAULT_MAX_WAIT);
    }

    /**
     * Decides for every candidate, in start order.
     *
     * @param candidates VMs the loop would start
     * @param running    VMs that run now (by id)
     * @param awaited    VMs meant to run that cannot start yet (id to name)
     * @param now        the time of the decision
     * @param maxWait    how long a candidate waits for an awaited dependency
     */
    public static List<Verdict> decide(List<Candidate> candidates, Map<String, Running> running,
                                       Map<String, String> awaited, Instant now, Duration settle, int perHost,
                                       Duration maxWait) {
        Map<String, Integer> booting = new HashMap<>();
        running.values().forEach(r -> {
            if (r.since() == null || r.since().plus(settle).isAfter(now)) {
                booting.merge(r.host(), 1, Integer::sum);
            }
        });
        Set<String> pending = new HashSet<>();
        Map<String, String> names = new HashMap<>(awaited);
        running.forEach((id, r) -> {
            if (r.name() != null) {
                names.put(id, r.name());
            }
        });
        candidates.forEach(c -> {
            pending.add(c.id());
            names.put(c.id(), c.name());
        });
        List<Candidate> ordered = new ArrayList<>(candidates);
        ordered.sort(Comparator.comparingInt((Candidate c) -> -c.priority()).thenComparing(Candidate::name)
                .thenComparing(Candidate::id));
        List<Verdict> out = new ArrayList<>();
        for (Candidate c : ordered) {
            List<String> waitFor = new ArrayList<>();
            List<String> away = new ArrayList<>();
            List<String> givenUp = new ArrayList<>();
            boolean patient = c.since() == null || c.since().plus(maxWait).isAfter(now);
            for (String d : c.dependsOn()) {
                Running r = running.get(d);
                boolean settled = r != null && r.since() != null && !r.since().plus(settle).isAfter(now);
                if (pending.contains(d) || r != null && !settled) {
                    waitFor.add(names.getOrDefault(d, d));
                } else if (r == null && awaited.containsKey(d)) {
                    (patient ? away : givenUp).add(awaited.get(d));
                }
            }
            if (!waitFor.isEmpty()) {
                out.add(new Verdict(c, false, "waits for " + String.join(", ", waitFor) + " to run for "
                        + settle.toSeconds() + " s"));
                continue;
            }
            if (!away.isEmpty()) {
                out.add(new Verdict(c, false, "waits for " + String.join(", ", away) + " (meant to run, cannot start"
                        + " yet) for at most " + maxWait.toMinutes() + " min"));
                continue;
            }
            if (booting.getOrDefault(c.host(), 0) >= perHost) {
                out.add(new Verdict(c, false, perHost + " VM(s) boot on its host already"));
                continue;
            }
            booting.merge(c.host(), 1, Integer::sum);
            out.add(new Verdict(c, true, "priority " + c.priority() + (givenUp.isEmpty() ? "" : "; starts without "
                    + String.join(", ", givenUp) + " after waiting " + maxWait.toMinutes() + " min")));
        }
        return out;
    }
}
