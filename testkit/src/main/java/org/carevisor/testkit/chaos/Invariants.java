package org.carevisor.testkit.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.carevisor.testkit.GuestProbe;

/** The invariants every campaign checks. Later capabilities add theirs to {@link #all}. */
public final class Invariants {
    /** How long a task may run before it counts as stuck (the longest here is an evacuation of a few guests). */
    static final Duration TASK_LIMIT = Duration.ofMinutes(10);
    /** How long two QEMUs of one VM may exist (a live migration's hand-over) before it counts as running twice. */
    static final Duration TWO_QEMUS_FOR = Duration.ofSeconds(20);

    private Invariants() {
    }

    public static List<Invariant> all() {
        return List.of(oneQemuPerVm(), countersNeverBack(), managerMatchesProcesses(), noStuckTask(),
                auditChainVerifies());
    }

    /**
     * A VM never runs twice: at most one QEMU process of it across every host's namespace. A live migration has
     * two for a moment (the destination waits for the stream, the source quits after the hand-over), so two count
     * only when the same pair lasts {@link #TWO_QEMUS_FOR}.
     */
    static Invariant oneQemuPerVm() {
        Map<String, Map.Entry<List<Long>, Instant>> seen = new ConcurrentHashMap<>();
        return of("one-qemu-per-vm", Invariant.When.ALWAYS, lab -> {
            List<String> out = new ArrayList<>();
            for (String vm : lab.guests()) {
                List<Long> pids = lab.qemus(lab.id(vm));
                if (pids.size() < 2) {
                    seen.remove(vm);
                    continue;
                }
                var first = seen.get(vm);
                if (first == null || !first.getKey().equals(pids)) {
                    seen.put(vm, Map.entry(pids, Instant.now()));
                } else if (first.getValue().plus(TWO_QEMUS_FOR).isBefore(Instant.now())) {
                    out.add(vm + " runs " + pids.size() + " times (QEMU pids " + pids + ") for more than "
                            + TWO_QEMUS_FOR.toSeconds() + " s");
                    seen.put(vm, Map.entry(pids, Instant.now().plus(Duration.ofDays(1)))); // reported once
                }
            }
            return out;
        });
    }

    /** A guest's acknowledged disk writes are never lost: the counter it reads from its disk never goes back. */
    static Invariant countersNeverBack() {
        return of("acked-writes-kept", Invariant.When.ALWAYS, lab -> {
            List<String> out = new ArrayList<>();
            for (String vm : lab.guests()) {
                long acked = lab.acked(vm);
                GuestProbe.Status s;
                try {
                    s = lab.probe(vm);
                } catch (IOException e) {
                    continue; // not answering now: convergence checks that it comes back
                }
                if (!s.diskError().isEmpty()) {
                    out.add(vm + " cannot read its disk in the guest (" + s.diskError() + ") after it acknowledged "
                            + acked);
                } else if (s.diskCounter() < acked) {
                    // what answered, to tell a lost write from a probe that reached another guest
                    out.add(vm + " reads disk counter " + s.diskCounter() + " after it acknowledged " + acked
                            + " (answered: uuid " + s.uuid() + (s.uuid().equalsIgnoreCase(lab.id(vm)) ? " (its own)"
                            : " (NOT its id " + lab.id(vm) + ")") + ", mac " + s.mac() + ", boot " + s.bootId()
                            + ", boot count " + s.bootCount() + ")");
                }
            }
            return out;
        });
    }

    /**
     * Once healed, the manager's view matches the processes: a VM it shows running has exactly one QEMU, a VM it
     * shows stopped has none, and every VM whose desired state is running runs and answers.
     */
    static Invariant managerMatchesProcesses() {
        return of("manager-matches-processes", Invariant.When.CONVERGED, lab -> {
            List<String> out = new ArrayList<>();
            List<JsonNode> vms = lab.vms().orElse(null);
            if (vms == null) {
                return List.of("the manager does not answer");
            }
            for (JsonNode v : vms) {
                out.addAll(lab.mismatches(v));
            }
            return out;
        });
    }

    /** No task stays running forever. */
    static Invariant noStuckTask() {
        return of("no-stuck-task", Invariant.When.CONVERGED, lab -> {
            List<String> out = new ArrayList<>();
            for (JsonNode t : lab.api().get("/api/v1/tasks?limit=200").json()) {
                String state = t.path("state").asText();
                String since = t.path("createdAt").asText(t.path("startedAt").asText(""));
                if ((state.equals("running") || state.equals("queued")) && !since.isEmpty()
                        && Instant.parse(since).plus(TASK_LIMIT).isBefore(Instant.now())) {
                    out.add("task " + t.path("id").asText() + " (" + t.path("kind").asText() + " of "
                            + t.path("target").path("name").asText(t.path("target").toString()) + ") is " + state + " since " + since);
                }
            }
            return out;
        });
    }

    /** The audit trail's hash chain verifies. */
    static Invariant auditChainVerifies() {
        return of("audit-chain-verifies", Invariant.When.END, lab -> {
            JsonNode r = lab.api().post("/api/v1/audit/verify", "{}").json();
            return r.path("ok").asBoolean() ? List.of()
                    : List.of("audit verification failed: " + r.path("summary").asText() + " " + r.path("problems"));
        });
    }

    @FunctionalInterface
    interface Check {
        List<String> check(ChaosLab lab) throws Exception;
    }

    static Invariant of(String name, Invariant.When when, Check check) {
        return new Invariant() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public When when() {
                return when;
            }

            @Override
            public List<String> check(ChaosLab lab) throws Exception {
                return check.check(lab);
            }
        };
    }
}
