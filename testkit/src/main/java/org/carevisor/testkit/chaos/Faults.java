package org.carevisor.testkit.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.carevisor.testkit.Http;

/**
 * The fault menu. Each heal brings the broken part back the way a data centre would (the process restarted, the
 * host booted, the link plugged in again), also when Carevisor's own fencing killed it meanwhile.
 */
public final class Faults {
    private Faults() {
    }

    /** Every fault of the menu. */
    public static List<Fault> all() {
        return List.of(agentKill(), agentFreeze(), qemuKill(), watchdogKill(), networkCut(), hostPowerLoss(),
                managerKill(), managerKillDuringRecovery(), sitePowerCycle(), storageFull(), storageUnreachable(),
                managerKillDuringTask());
    }

    /** The menu restricted to the named kinds (all when {@code kinds} is empty); unknown kinds are refused. */
    public static List<Fault> select(List<String> kinds) {
        if (kinds.isEmpty()) {
            return all();
        }
        List<Fault> out = new ArrayList<>();
        for (String k : kinds) {
            out.add(all().stream().filter(f -> f.kind().equals(k)).findFirst().orElseThrow(() ->
                    new IllegalArgumentException("unknown fault kind '" + k + "'; known: "
                            + all().stream().map(Fault::kind).toList())));
        }
        return out;
    }

    /** kill -9 of a host's agent (its QEMUs and watchdog run on); healed by starting the agent again. */
    static Fault agentKill() {
        return simple("agent-kill", (lab, rnd) -> {
            int h = rnd.nextInt(lab.hostCount());
            lab.agentPid(h).ifPresent(pid -> sig(pid, "KILL"));
            return Fault.heal("agent of host " + h + " killed", () -> lab.ensureAgent(h));
        });
    }

    /** SIGSTOP of a host's agent (it hangs, e.g. on storage); healed by SIGCONT (or a new agent if fenced). */
    static Fault agentFreeze() {
        return simple("agent-freeze", (lab, rnd) -> {
            int h = rnd.nextInt(lab.hostCount());
            long pid = lab.agentPid(h).orElse(-1L);
            if (pid > 0) {
                sig(pid, "STOP");
            }
            return Fault.heal("agent of host " + h + " frozen", () -> {
                if (pid > 0) {
                    try {
                        ChaosLab.signal(pid, "CONT");
                    } catch (IOException e) {
                        // fenced meanwhile: the process is gone
                    }
                }
                lab.ensureAgent(h);
            });
        });
    }

    /**
     * kill -9 of a running guest's QEMU (a crash): HA restarts an HA VM; a VM without HA stays crashed for an
     * operator (by design), who starts it again as the heal.
     */
    static Fault qemuKill() {
        return simple("qemu-kill", (lab, rnd) -> {
            String vm = lab.guests().get(rnd.nextInt(lab.guests().size()));
            List<Long> pids = lab.qemus(lab.id(vm));
            pids.forEach(pid -> sig(pid, "KILL"));
            return Fault.heal("QEMU of " + vm + " killed (" + pids.size() + ")", () -> {
                boolean ha = lab.api().get("/api/v1/vms/" + vm + "/ha").json().path("enabled").asBoolean();
                JsonNode v = lab.lab().vm(vm);
                if (!ha && v.path("state").asText().equals("crashed")) {
                    lab.api().post("/api/v1/vms/" + vm + "/start", null); // the operator's answer to a crash
                }
            });
        });
    }

    /** kill -9 of a host's HA watchdog; the agent must notice and start a new one. */
    static Fault watchdogKill() {
        return simple("watchdog-kill", (lab, rnd) -> {
            int h = rnd.nextInt(lab.hostCount());
            lab.watchdogPid(h).ifPresent(pid -> sig(pid, "KILL"));
            return Fault.heal("watchdog of host " + h + " killed", () -> { });
        });
    }

    /** A host's network cut (its namespace link down); healed by plugging it in again (and booting it if fenced). */
    static Fault networkCut() {
        return simple("network-cut", (lab, rnd) -> {
            int h = rnd.nextInt(lab.hostCount());
            lab.lab().network().link(h + 1, false);
            return Fault.heal("network of host " + h + " cut", () -> {
                lab.lab().network().link(h + 1, true);
                lab.ensureAgent(h);
            });
        });
    }

    /** A host loses power (every process of its namespace killed); healed by booting it (its agent starts). */
    static Fault hostPowerLoss() {
        return simple("host-power-loss", (lab, rnd) -> {
            int h = rnd.nextInt(lab.hostCount());
            int n = lab.powerOff(h);
            return Fault.heal("host " + h + " lost power (" + n + " processes)", () -> lab.ensureAgent(h));
        });
    }

    /** kill -9 of the manager; healed by starting it again (it resumes from its database). */
    static Fault managerKill() {
        return simple("manager-kill", (lab, rnd) -> {
            lab.lab().manager().kill();
            return Fault.heal("manager killed", () -> lab.lab().startManager());
        });
    }

    /** A host loses power and the manager is killed while HA recovers its VMs; both come back. */
    static Fault managerKillDuringRecovery() {
        return simple("manager-kill-in-recovery", (lab, rnd) -> {
            int h = busiestHost(lab);
            lab.powerOff(h);
            Thread.sleep(6_000 + rnd.nextInt(6_000));
            lab.lab().manager().kill();
            return Fault.heal("host " + h + " lost power, manager killed during the recovery", () -> {
                lab.lab().startManager();
                lab.ensureAgent(h);
            });
        });
    }

    /**
     * The manager is killed while a long task runs on a running guest: a live migration (its source and destination
     * QEMUs both exist) or a snapshot with memory (the guest paused while its RAM is saved), at a random moment after
     * the task started. The restarted manager must leave one QEMU running for the VM, with its disk whole, and no
     * task running forever (an interrupted one ends as failed, "manager-restarted").
     */
    static Fault managerKillDuringTask() {
        return simple("manager-kill-in-task", (lab, rnd) -> {
            String vm = lab.guests().get(rnd.nextInt(lab.guests().size()));
            boolean migrate = rnd.nextBoolean();
            long delay = rnd.nextInt(3_000);
            String what = (migrate ? "migration" : "memory snapshot") + " of " + vm;
            String task = null;
            try {
                Http.Response r = migrate
                        ? lab.api().post("/api/v1/vms/" + vm + "/migrate", "{\"reason\":\"chaos\"}")
                        : lab.api().post("/api/v1/vms/" + vm + "/snapshots", "{\"name\":\"chaos-task-"
                                + Long.toHexString(rnd.nextLong() >>> 16) + "\",\"memory\":true}");
                if (r.status() == 202) {
                    task = r.json().path("id").asText();
                } else { // refused (the VM is stopped or busy): the manager is killed all the same
                    what += " refused (" + r.status() + ")";
                }
            } catch (RuntimeException e) {
                what = "no task (the manager did not answer: " + e.getMessage() + ")";
            }
            if (task != null) {
                awaitTaskStarted(lab, task);
            }
            Thread.sleep(delay);
            lab.lab().manager().kill();
            return Fault.heal("manager killed " + delay + " ms into the " + what, () -> lab.lab().startManager());
        });
    }

    /** Waits (at most 10 s) until the task has left the queue. */
    private static void awaitTaskStarted(ChaosLab lab, String task) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            try {
                if (!lab.api().get("/api/v1/tasks/" + task).json().path("state").asText().equals("queued")) {
                    return;
                }
            } catch (RuntimeException e) {
                return;
            }
            Thread.sleep(50);
        }
    }

    /** The whole site loses power; it comes back in random order (a host, the manager, the other hosts). */
    static Fault sitePowerCycle() {
        return simple("site-power-cycle", (lab, rnd) -> {
            lab.lab().manager().kill();
            for (int h = 0; h < lab.hostCount(); h++) {
                lab.powerOff(h);
            }
            List<Integer> order = new ArrayList<>();
            for (int h = 0; h < lab.hostCount(); h++) {
                order.add(h);
            }
            java.util.Collections.shuffle(order, rnd);
            int managerAt = rnd.nextInt(order.size() + 1);
            List<Integer> gaps = new ArrayList<>();
            for (int i = 0; i <= order.size(); i++) {
                gaps.add(rnd.nextInt(15_000));
            }
            return Fault.heal("site power cycle; back in order " + order + " with the manager at " + managerAt, () -> {
                for (int i = 0; i <= order.size(); i++) {
                    if (i == managerAt) {
                        lab.lab().startManager();
                    }
                    if (i < order.size()) {
                        lab.lab().startAgent(order.get(i));
                    }
                    Thread.sleep(gaps.get(i));
                }
            });
        });
    }

    /**
     * The shared storage runs full to its last block (a ballast file on the lab's size-limited file system); healed by
     * removing it. Guests whose writes need new space are paused meanwhile and must run again after the heal; no host
     * may fence itself for it. Only for a lab with such a storage ({@link ChaosLab#withStorage}).
     */
    static Fault storageFull() {
        return new Fault() {
            @Override
            public String kind() {
                return "storage-full";
            }

            @Override
            public boolean applicable(ChaosLab lab) {
                return lab.storage().map(s -> !s.full() && !s.frozen()).orElse(false);
            }

            @Override
            public Fault.Heal inject(ChaosLab lab, Random rnd) throws Exception {
                var s = lab.storage().orElseThrow();
                long bytes = s.fill();
                return Fault.heal("storage full (" + (bytes >> 20) + " MiB of ballast)", s::free);
            }
        };
    }

    /**
     * The shared storage stops answering (its FUSE layer frozen, as a SAN or NFS server that is unreachable): every
     * access hangs on every host, so no host can renew its lease and the HA watchdogs stop the HA VMs; healed by
     * letting the storage answer again (and starting any agent fenced meanwhile). Every VM that should run must
     * run again after the heal, none twice, no acknowledged write lost. Only for a lab whose storage is mounted
     * freezable ({@link org.carevisor.testkit.LimitedStorage#mountFreezable}).
     */
    static Fault storageUnreachable() {
        return new Fault() {
            @Override
            public String kind() {
                return "storage-unreachable";
            }

            @Override
            public boolean applicable(ChaosLab lab) {
                return lab.storage().map(s -> s.freezable() && !s.frozen() && !s.full()).orElse(false);
            }

            @Override
            public Fault.Heal inject(ChaosLab lab, Random rnd) throws Exception {
                var s = lab.storage().orElseThrow();
                s.freeze();
                return Fault.heal("storage unreachable", () -> {
                    s.thaw();
                    for (int h = 0; h < lab.hostCount(); h++) {
                        lab.ensureAgent(h);
                    }
                });
            }
        };
    }

    /** The host that runs most of the campaign's VMs (HA has the most to do there). */
    private static int busiestHost(ChaosLab lab) {
        int[] n = new int[lab.hostCount()];
        for (JsonNode v : lab.vms().orElse(List.of())) {
            int h = lab.hostIndexOf(v);
            if (h >= 0 && v.path("state").asText().equals("running")) {
                n[h]++;
            }
        }
        int best = 0;
        for (int i = 1; i < n.length; i++) {
            best = n[i] > n[best] ? i : best;
        }
        return best;
    }

    private static void sig(long pid, String s) {
        try {
            ChaosLab.signal(pid, s);
        } catch (IOException e) {
            // ended meanwhile
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @FunctionalInterface
    private interface Injector {
        Fault.Heal inject(ChaosLab lab, Random rnd) throws Exception;
    }

    private static Fault simple(String kind, Injector injector) {
        return new Fault() {
            @Override
            public String kind() {
                return kind;
            }

            @Override
            public Fault.Heal inject(ChaosLab lab, Random rnd) throws Exception {
                return injector.inject(lab, rnd);
            }
        };
    }
}
