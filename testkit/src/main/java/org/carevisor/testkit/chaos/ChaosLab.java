package org.carevisor.testkit.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.LimitedStorage;

/**
 * The lab a fault campaign runs against: a multi-host {@link Lab} with its guests, and what the campaign has seen
 * of them (the highest disk counter each guest acknowledged). The fault and invariant helpers act on processes and
 * namespaces directly, never through Carevisor, so a fault is real even when Carevisor misbehaves. Thread-safe.
 */
public final class ChaosLab {
    private final Lab lab;
    private final List<String> guests;
    private final Map<String, Long> acked = new ConcurrentHashMap<>();
    private final Map<String, String> ids = new ConcurrentHashMap<>();
    private final Map<String, GuestProbe> probes = new ConcurrentHashMap<>();
    private volatile LimitedStorage storage;

    public ChaosLab(Lab lab, List<String> guests) {
        this.lab = lab;
        this.guests = List.copyOf(guests);
    }

    /** Gives the campaign the lab's size-limited storage: the storage-full fault is injected only with one. */
    public ChaosLab withStorage(LimitedStorage s) {
        this.storage = s;
        return this;
    }

    /** The lab's size-limited storage, if it has one. */
    public Optional<LimitedStorage> storage() {
        return Optional.ofNullable(storage);
    }

    /**
     * Prepares a campaign on a started multi-host lab: lab fencing on every host (so a wrong suspicion shows as a
     * fence), {@code ha} HA guests {@code ha-N} (priorities falling, the second depending on the first) and
     * {@code plain} guests {@code vm-N} without HA, spread over the hosts, 128 MiB each, all answering. The HA
     * restart limit is lifted: a campaign kills the same guest more often than a real hour would.
     */
    public static ChaosLab prepare(Lab lab, int ha, int plain) {
        for (int i = 0; i < lab.hosts().size(); i++) {
            lab.api().patch("/api/v1/hosts/" + lab.host(i).name() + "/fence", "{\"kind\":\"lab\",\"target\":\""
                    + lab.network().namespace(i + 1) + "\"}").expect(200);
        }
        List<String> names = new ArrayList<>();
        for (int i = 1; i <= ha + plain; i++) {
            String name = i <= ha ? "ha-" + i : "vm-" + (i - ha);
            names.add(name);
            lab.createVm("{\"name\":\"" + name + "\",\"cpus\":1,\"memoryMiB\":128,\"image\":\"carevisor-appliance\","
                    + "\"nics\":[{\"network\":\"lab\"}],\"start\":true,\"host\":\""
                    + lab.host((i - 1) % lab.hosts().size()).name() + "\"}");
            if (i <= ha) {
                lab.api().patch("/api/v1/vms/" + name + "/ha", "{\"enabled\":true,\"priority\":" + (100 - 10 * i)
                        + (i == 2 ? ",\"dependsOn\":[\"ha-1\"]" : "") + ",\"maxRestartsPerHour\":100}").expect(200);
            }
        }
        for (String name : names) {
            lab.guest(name).awaitReady(Duration.ofSeconds(180));
        }
        return new ChaosLab(lab, names);
    }

    public Lab lab() {
        return lab;
    }

    /** The guests of the campaign (VM names). */
    public List<String> guests() {
        return guests;
    }

    public int hostCount() {
        return lab.hosts().size();
    }

    /** The API as the lab's administrator; the current one after a manager restart. */
    public Http api() {
        return lab.api();
    }

    /** The VM's id (cached; VM ids never change). */
    public String id(String vm) {
        return ids.computeIfAbsent(vm, n -> lab.vm(n).path("id").asText());
    }

    /** The manager's view of every VM of the campaign, or empty while the manager does not answer. */
    public Optional<List<JsonNode>> vms() {
        try {
            List<JsonNode> out = new ArrayList<>();
            for (JsonNode v : api().get("/api/v1/vms?limit=1000").json()) {
                if (guests.contains(v.path("name").asText())) {
                    out.add(v);
                }
            }
            return Optional.of(out);
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    /**
     * Where the manager's view of one VM does not match the processes and the guest: shown running without exactly
     * one QEMU or stopped with one, meant to run but not answering, or answering while not shown running. Empty when
     * it matches (what convergence waits for and the converged invariant checks).
     */
    public List<String> mismatches(JsonNode v) {
        List<String> out = new ArrayList<>();
        String vm = v.path("name").asText();
        String state = v.path("state").asText();
        int qemus = qemus(v.path("id").asText()).size();
        if (state.equals("running") && qemus != 1 || state.equals("stopped") && qemus != 0) {
            out.add(vm + " is " + state + " for the manager with " + qemus + " QEMU process(es)");
        }
        if (v.path("powerState").asText().equals("running")) {
            try {
                probe(vm);
                if (!state.equals("running")) {
                    out.add(vm + " answers, but the manager shows it " + state);
                }
            } catch (IOException e) {
                out.add(vm + " should run but does not answer (" + state + ")");
            }
        }
        return out;
    }

    /** Asks the guest for its status (boot id and disk counter); throws when it does not answer. */
    public GuestProbe.Status probe(String vm) throws IOException {
        GuestProbe p = probes.computeIfAbsent(vm, lab::guest);
        try {
            return p.status();
        } catch (IOException e) {
            probes.remove(vm);
            throw e;
        }
    }

    /** Makes the guest write the next value of its disk counter (flushed before it answers) and remembers it. */
    public void write(String vm) throws IOException {
        GuestProbe p = probes.computeIfAbsent(vm, lab::guest);
        try {
            long v = p.incrementDiskCounter();
            acked.merge(vm, v, Math::max);
        } catch (IOException e) {
            probes.remove(vm);
            throw e;
        }
    }

    /** The highest disk counter the guest acknowledged as written (0 before the first write). */
    public long acked(String vm) {
        return acked.getOrDefault(vm, 0L);
    }

    /** The lab host index (0-based) the manager places a VM on now, or -1. */
    public int hostIndexOf(JsonNode vm) {
        String host = vm.path("host").asText();
        for (int i = 0; i < hostCount(); i++) {
            if (lab.host(i).name().equals(host)) {
                return i;
            }
        }
        return -1;
    }

    /** The pid of host {@code i}'s agent, if it runs. */
    public Optional<Long> agentPid(int i) {
        var p = lab.host(i).process();
        return p != null && p.alive() ? Optional.of(p.pid()) : Optional.empty();
    }

    /** Starts host {@code i}'s agent again if it does not run (a host that boots again). */
    public void ensureAgent(int i) throws IOException {
        var p = lab.host(i).process();
        if (p == null || !p.alive()) {
            lab.startAgent(i);
        }
    }

    /** The pid of host {@code i}'s HA watchdog (a shell script in its own session), if it runs. */
    public Optional<Long> watchdogPid(int i) {
        String dir = lab.host(i).stateDir().toString();
        return processes().filter(c -> c.cmd.contains("ha-watchdog.sh") && c.cmd.contains(dir))
                .map(c -> c.pid).findFirst();
    }

    /** Every process of host {@code i}'s network namespace (agent, watchdog, QEMUs). */
    public List<Long> namespacePids(int i) throws IOException, InterruptedException {
        String out = run("ip", "netns", "pids", lab.network().namespace(i + 1));
        List<Long> pids = new ArrayList<>();
        for (String s : out.isBlank() ? new String[0] : out.strip().split("\\s+")) {
            pids.add(Long.parseLong(s));
        }
        return pids;
    }

    /**
     * The host loses power: every process of its namespace is frozen first (SIGSTOP), so none of them sees another
     * end (a real power loss stops them all at once), then SIGKILL to each, until none is left.
     */
    public int powerOff(int i) throws IOException, InterruptedException {
        int killed = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        for (List<Long> pids = namespacePids(i); !pids.isEmpty(); pids = namespacePids(i)) {
            for (long pid : pids) {
                try {
                    signal(pid, "STOP");
                } catch (IOException e) {
                    // ended meanwhile
                }
            }
            for (long pid : pids) {
                try {
                    signal(pid, "KILL");
                    killed++;
                } catch (IOException e) {
                    // it ended between the listing and the kill
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("processes survive in " + lab.network().namespace(i + 1) + ": " + pids);
            }
            Thread.sleep(100);
        }
        return killed;
    }

    /** Sends a signal (KILL, STOP, CONT) to a process. */
    public static void signal(long pid, String sig) throws IOException, InterruptedException {
        run("kill", "-" + sig, Long.toString(pid));
    }

    /** The lab's QEMU processes (not their wrapper shells) of a VM, across every namespace. */
    public List<Long> qemus(String vmId) {
        return processes().filter(c -> c.cmd.split("\0", 2)[0].contains("qemu-system") && c.cmd.contains(vmId)
                && c.cmd.contains(lab.dir().toString())).map(c -> c.pid).toList();
    }

    private record Proc(long pid, String cmd) {
    }

    private static Stream<Proc> processes() {
        List<Proc> out = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.toList()) {
                String name = p.getFileName().toString();
                if (name.chars().allMatch(Character::isDigit)) {
                    try {
                        out.add(new Proc(Long.parseLong(name),
                                new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8)));
                    } catch (IOException e) {
                        // ended meanwhile
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.stream();
    }

    private static String run(String... cmd) throws IOException {
        return org.carevisor.testkit.Commands.run(Duration.ofSeconds(10), cmd);
    }
}
