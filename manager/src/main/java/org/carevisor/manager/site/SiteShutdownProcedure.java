package org.carevisor.manager.site;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.ha.VmHa;
import org.carevisor.manager.host.AgentCallException;
import org.carevisor.manager.host.AgentClient;
import org.carevisor.manager.host.HostBoard;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.task.TaskContext;
import org.carevisor.manager.vm.ObservedStore;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.protocol.PowerOffAnswer;
import org.carevisor.protocol.VmStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The phases of one orderly site shutdown, each persisted before it runs, so a restarted manager resumes from the
 * phase it was in (every phase can be run again: draining a drained host, stopping a stopped VM change nothing).
 *
 * <ol>
 *   <li>{@code drain}: every reporting host refuses VM starts and incoming migrations (undone by a cancel).</li>
 *   <li>{@code stop-vms}: the running VMs stop in {@link ShutdownOrder} waves, each with an ACPI shutdown and a
 *       power-off after the timeout; their desired state stays running and their stop cause is host-shutdown, so
 *       they start again in start order when their hosts are back. Then a sweep powers off anything still running
 *       (a guest that ignored the power-off, a VM unknown to the manager).</li>
 *   <li>{@code power-off}, <b>the point of no return</b>: each host does its own {@code --power-off-action}; it is
 *       first marked switched off, so high availability neither fences it nor restarts its VMs elsewhere.</li>
 * </ol>
 * Cancelling is possible until the point of no return: the hosts accept starts again and the reconcile loop starts
 * the stopped VMs again in start order.
 */
final class SiteShutdownProcedure {
    private static final Logger LOG = LoggerFactory.getLogger(SiteShutdownProcedure.class);
    /** VM shutdowns in flight at once (each is an agent call and a poll). */
    private static final int PARALLEL = 16;
    /** Beyond the VM's shutdown timeout: how long its agent gets to power it off and report it stopped. */
    private static final Duration POWER_OFF_GRACE = Duration.ofSeconds(30);

    /** What the procedure works with. */
    record Parts(SiteShutdownRepository repo, HostRepository hosts, HostBoard board, VmRepository vms,
                 ObservedStore observed, java.util.function.Supplier<Map<String, VmHa>> ha, AgentClient agents,
                 AuditLog audit) {
    }

    private final Parts p;
    private final SiteShutdownRepository.Shutdown shutdown;
    private final AtomicBoolean cancel;
    private final Actor actor;

    SiteShutdownProcedure(Parts parts, SiteShutdownRepository.Shutdown shutdown, AtomicBoolean cancel, Actor actor) {
        this.p = parts;
        this.shutdown = shutdown;
        this.cancel = cancel;
        this.actor = actor;
    }

    /** Runs from the persisted phase to the end; returns the summary. */
    String run(TaskContext ctx) {
        String phase = shutdown.phase();
        if (phase.equals("drain")) {
            ctx.progress(2, "drain: hosts refuse VM starts");
            drain(true);
            phase = next("stop-vms");
        }
        if (phase.equals("stop-vms")) {
            if (stopVms(ctx)) {
                return cancelled();
            }
            ctx.progress(88, "sweep: power off what still runs");
            sweep();
            if (cancel.get()) {
                return cancelled();
            }
            phase = next(shutdown.powerOffHosts() ? "power-off" : "done");
        }
        if (phase.equals("power-off")) {
            // the point of no return: from here the hosts go down; a cancel is refused
            ctx.progress(90, "power-off: hosts switch off (point of no return)");
            powerOffHosts();
            next("done");
        }
        List<SiteShutdownRepository.Step> steps = p.repo().steps(shutdown.id());
        long vmsStopped = steps.stream().filter(s -> s.kind().equals("vm") && s.outcome().equals("stopped")).count();
        long vmsFailed = steps.stream().filter(s -> s.kind().equals("vm") && !s.outcome().equals("stopped")).count();
        long hostsOff = steps.stream().filter(s -> s.kind().equals("host") && s.outcome().equals("switched-off"))
                .count();
        long hostsOn = steps.stream().filter(s -> s.kind().equals("host") && !s.outcome().equals("switched-off"))
                .count();
        String summary = "site shut down: " + vmsStopped + " VM(s) stopped in order" + (vmsFailed > 0 ? ", "
                + vmsFailed + " not (see carevisor site status)" : "") + (shutdown.powerOffHosts() ? "; " + hostsOff
                + " host(s) switched off" + (hostsOn > 0 ? ", " + hostsOn + " left on" : "")
                : "; hosts left on, refusing VM starts until carevisor site resume");
        p.repo().finish(shutdown.id(), "succeeded", summary);
        p.audit().record(new AuditLog.Entry(actor, "site.shutdown.done", "site", shutdown.id(), "site", null,
                Map.of("vmsStopped", vmsStopped, "vmsNotStopped", vmsFailed, "hostsSwitchedOff", hostsOff),
                summary, vmsFailed > 0 ? Outcome.FAILURE : Outcome.SUCCESS, ctx.taskId()));
        ctx.message(summary);
        return summary;
    }

    private String next(String phase) {
        p.repo().phase(shutdown.id(), phase);
        return phase;
    }

    private String cancelled() {
        drain(false);
        String detail = "cancelled before the hosts were switched off; the hosts accept VM starts again and the"
                + " stopped VMs start again in start order";
        p.repo().finish(shutdown.id(), "cancelled", detail);
        p.audit().record(new AuditLog.Entry(actor, "site.shutdown.cancelled", "site", shutdown.id(), "site", null,
                null, detail, Outcome.SUCCESS, null));
        return detail;
    }

    /** Every reporting host refuses (or accepts again) VM starts; a host that is not reporting is recorded. */
    private void drain(boolean on) {
        for (HostRecord h : p.hosts().list()) {
            String endpoint = endpoint(h.id());
            if (endpoint == null) {
                if (on) {
                    step("host", h.id(), h.name(), 0, "not-reporting", "not reporting: its VMs cannot be shut down"
                            + " in order (the host may be off already)");
                }
                continue;
            }
            try {
                p.agents().drain(endpoint, on);
            } catch (AgentCallException e) {
                step("host", h.id(), h.name(), 0, "failed", (on ? "could not make it refuse VM starts: "
                        : "could not make it accept VM starts again: ") + e.getMessage());
            }
        }
    }

    /** Stops the running VMs wave by wave; true when cancelled between waves. */
    private boolean stopVms(TaskContext ctx) {
        Map<String, VmHa> ha = p.ha().get();
        List<ShutdownOrder.Vm> running = new ArrayList<>();
        Map<String, VmRecord> byId = new HashMap<>();
        for (VmRecord vm : p.vms().list()) {
            VmStatus s = p.observed().get(vm.id()).map(ObservedStore.Observed::status).orElse(null);
            if (s == null || !s.state().hasProcess() || vm.hostId() == null) {
                continue;
            }
            if (endpoint(vm.hostId()) == null) {
                step("vm", vm.id(), vm.name(), 0, "not-reporting", "its host is not reporting; not shut down");
                continue;
            }
            VmHa h = ha.get(vm.id());
            boolean on = h != null && h.enabled();
            running.add(new ShutdownOrder.Vm(vm.id(), vm.name(), vm.hostId(), on ? h.priority() : -1,
                    on ? h.dependsOn() : List.of()));
            byId.put(vm.id(), vm);
        }
        List<ShutdownOrder.Wave> waves = ShutdownOrder.plan(running);
        for (ShutdownOrder.Wave w : waves) {
            if (cancel.get()) {
                return true;
            }
            ctx.progress(5 + 80 * (w.number() - 1) / Math.max(1, waves.size()), "stop-vms: wave " + w.number() + " of "
                    + waves.size() + " (" + String.join(", ", w.vms().stream().map(ShutdownOrder.Vm::name).toList())
                    + ")");
            LOG.info("site shutdown: wave {} of {}: {} ({})", w.number(), waves.size(),
                    w.vms().stream().map(ShutdownOrder.Vm::name).toList(), w.why());
            Semaphore slots = new Semaphore(PARALLEL);
            List<Thread> threads = new ArrayList<>();
            for (ShutdownOrder.Vm v : w.vms()) {
                threads.add(Thread.ofVirtual().name("site-shutdown-" + v.name()).start(() -> {
                    slots.acquireUninterruptibly();
                    try {
                        stopOne(byId.get(v.id()), w);
                    } finally {
                        slots.release();
                    }
                }));
            }
            for (Thread t : threads) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("site shutdown interrupted", e);
                }
            }
        }
        return cancel.get();
    }

    private void stopOne(VmRecord vm, ShutdownOrder.Wave wave) {
        String endpoint = endpoint(vm.hostId());
        Instant begin = Instant.now();
        String outcome;
        String detail;
        try {
            if (endpoint == null) {
                throw new AgentCallException(503, "host-unavailable", "its host stopped reporting");
            }
            VmStatus s = p.agents().shutdownForHost(endpoint, vm.id(), shutdown.vmTimeoutSeconds());
            Instant deadline = begin.plusSeconds(shutdown.vmTimeoutSeconds()).plus(POWER_OFF_GRACE);
            while (s.state().hasProcess() && Instant.now().isBefore(deadline)) {
                Thread.sleep(250);
                s = p.agents().status(endpoint, vm.id());
                p.observed().put(vm.hostId(), s);
            }
            long seconds = Duration.between(begin, Instant.now()).toSeconds();
            if (s.state().hasProcess()) {
                outcome = "still-running";
                detail = "still " + s.state().json() + " after " + seconds + " s; powered off by the sweep";
            } else {
                outcome = "stopped";
                detail = "stopped in " + seconds + " s" + (s.reason() == null ? "" : " (" + s.reason() + ")")
                        + "; " + wave.why();
            }
        } catch (AgentCallException e) {
            outcome = "failed";
            detail = e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            outcome = "failed";
            detail = "interrupted";
        }
        step("vm", vm.id(), vm.name(), wave.number(), outcome, detail);
        p.audit().record(new AuditLog.Entry(actor, "site.shutdown.vm", "vm", vm.id(), vm.name(), null,
                Map.of("wave", wave.number(), "outcome", outcome), detail,
                outcome.equals("stopped") ? Outcome.SUCCESS : Outcome.FAILURE, null));
    }

    /** Powers off at once (stop cause host-shutdown) whatever still runs on a reporting host. */
    private void sweep() {
        for (HostRecord h : p.hosts().list()) {
            String endpoint = endpoint(h.id());
            if (endpoint == null) {
                continue;
            }
            try {
                for (VmStatus s : p.agents().stopAll(endpoint, 0)) {
                    p.observed().put(h.id(), s);
                }
            } catch (AgentCallException e) {
                step("host", h.id(), h.name(), 0, "failed", "could not power off what still ran: " + e.getMessage());
            }
        }
    }

    private void powerOffHosts() {
        for (HostRecord h : p.hosts().list()) {
            String endpoint = endpoint(h.id());
            if (endpoint == null) {
                continue;
            }
            Map<String, Object> after = new LinkedHashMap<>();
            String outcome;
            String detail;
            // marked first: from the moment it stops reporting, HA neither suspects nor fences it
            p.repo().poweredOff(h.id(), true);
            try {
                PowerOffAnswer a = p.agents().powerOffHost(endpoint);
                after.put("action", a.action());
                outcome = a.action().equals("none") ? "left-on" : "switched-off";
                detail = a.detail();
            } catch (AgentCallException e) {
                outcome = "failed";
                detail = e.getMessage();
                p.repo().poweredOff(h.id(), false); // it stays on and is watched again
            }
            step("host", h.id(), h.name(), 0, outcome, detail);
            p.audit().record(new AuditLog.Entry(actor, "site.shutdown.host", "host", h.id(), h.name(), null, after,
                    detail, outcome.equals("failed") ? Outcome.FAILURE : Outcome.SUCCESS, null));
        }
    }

    private String endpoint(String hostId) {
        if (hostId == null || !p.board().connected(hostId)) {
            return null;
        }
        return p.board().get(hostId).map(e -> e.inventory().endpoint()).orElse(null);
    }

    private void step(String kind, String id, String name, int wave, String outcome, String detail) {
        p.repo().step(shutdown.id(), kind, id, name, wave, outcome, detail);
        LOG.info("site shutdown: {} {}: {} ({})", kind, name, outcome, detail);
    }
}
