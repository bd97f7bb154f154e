package org.carevisor.manager.site;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
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
 * Cancelling is possible until the point of no return: the cancel is stored ({@link
 * SiteShutdownRepository#requestCancel}), the step to {@code power-off} is refused once it is, the hosts this
 * shutdown drained accept starts again and the reconcile loop starts the stopped VMs again in start order.
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
    private final Actor actor;

    SiteShutdownProcedure(Parts parts, SiteShutdownRepository.Shutdown shutdown, Actor actor) {
        this.p = parts;
        this.shutdown = shutdown;
        this.actor = actor;
    }

    /** True once a cancel is stored (read from the database: a cancel survives a manager restart). */
    private boolean cancelRequested() {
        return p.repo().cancelledBy(shutdown.id()).isPresent();
    }

    /** Runs from the persisted phase to the end; returns the summary. */
    String run(TaskContext ctx) {
        String phase = shutdown.phase();
        if (phase.equals("drain")) {
            ctx.progress(2, "drain: hosts refuse VM starts");
            drain();
            phase = next("stop-vms");
        }
        if (phase.equals("stop-vms")) {
            if (stopVms(ctx)) {
                return cancelled();
            }
            ctx.progress(88, "sweep: power off what still runs");
            sweep();
            phase = shutdown.powerOffHosts() ? "power-off" : "done";
            if (!p.repo().advance(shutdown.id(), "stop-vms", phase)) {
                return cancelled(); // a cancel stored before this step wins: the hosts stay on
            }
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
        List<String> failed = undrain(p, shutdown.id(), new ArrayList<>());
        String who = p.repo().cancelledBy(shutdown.id()).orElse("?");
        String detail = "cancelled by " + who + " before the hosts were switched off; " + (failed.isEmpty()
                ? "the hosts accept VM starts again and the stopped VMs start again in start order"
                : "these hosts still refuse VM starts (carevisor site resume when they report): "
                + String.join("; ", failed));
        p.repo().finish(shutdown.id(), "cancelled", detail);
        p.audit().record(new AuditLog.Entry(actor, "site.shutdown.cancelled", "site", shutdown.id(), "site", null,
                null, detail, failed.isEmpty() ? Outcome.SUCCESS : Outcome.FAILURE, null));
        return detail;
    }

    /**
     * The hosts a shutdown drained accept VM starts again (only those: a host an operator drained stays so);
     * returns the hosts that could not be told, with why.
     */
    static List<String> undrain(Parts p, String shutdownId, List<String> undone) {
        List<String> failed = new ArrayList<>();
        java.util.Set<String> drained = p.repo().drainedHosts(shutdownId);
        java.util.Set<String> off = p.repo().poweredOffHosts();
        for (HostRecord h : p.hosts().list()) {
            if (!drained.contains(h.id())) {
                continue;
            }
            String endpoint = h.id() != null && p.board().connected(h.id())
                    ? p.board().get(h.id()).map(e -> e.inventory().endpoint()).orElse(null) : null;
            if (endpoint == null) {
                if (!off.contains(h.id())) { // a host switched off starts accepting VM starts when it boots
                    failed.add(h.name() + ": not reporting");
                }
                continue;
            }
            if (!p.board().shuttingDown(h.id())) {
                continue; // accepts starts already (its agent restarted)
            }
            try {
                p.agents().drain(endpoint, false);
                p.repo().poweredOff(h.id(), false);
                undone.add(h.name());
            } catch (RuntimeException e) {
                failed.add(h.name() + ": " + e.getMessage());
            }
        }
        return failed;
    }

    /** Every reporting host refuses VM starts (recorded, so a cancel undoes it); a host not reporting is recorded. */
    private void drain() {
        for (HostRecord h : p.hosts().list()) {
            String endpoint = endpoint(h.id());
            if (endpoint == null) {
                step("host", h.id(), h.name(), 0, "not-reporting", "not reporting: its VMs cannot be shut down"
                        + " in order (the host may be off already)");
                continue;
            }
            try {
                p.repo().drained(shutdown.id(), h.id()); // first: a cancel also undoes a drain whose answer was lost
                p.agents().drain(endpoint, true);
            } catch (AgentCallException e) {
                step("host", h.id(), h.name(), 0, "failed", "could not make it refuse VM starts: " + e.getMessage());
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
            if (cancelRequested()) {
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
        return cancelRequested();
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
            String pollError = null;
            while ((s == null || s.state() == null || s.state().hasProcess()) && Instant.now().isBefore(deadline)) {
                Thread.sleep(250);
                try { // one failed poll (a loaded host) is not a stopped VM: keep asking until the deadline
                    VmStatus next = p.agents().status(endpoint, vm.id());
                    if (next != null && next.state() != null) {
                        s = next;
                        p.observed().put(vm.hostId(), s);
                        pollError = null;
                    }
                } catch (AgentCallException e) {
                    pollError = e.getMessage();
                }
            }
            long seconds = Duration.between(begin, Instant.now()).toSeconds();
            if (s == null || s.state() == null || s.state().hasProcess()) {
                outcome = "still-running";
                detail = (s == null || s.state() == null ? "its state is unknown" : "still " + s.state().json())
                        + " after " + seconds + " s" + (pollError == null ? "" : " (last poll: " + pollError + ")")
                        + "; powered off by the sweep";
            } else {
                outcome = "stopped";
                detail = "stopped in " + seconds + " s" + (s.reason() == null ? "" : " (" + s.reason() + ")")
                        + "; " + wave.why();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            outcome = "failed";
            detail = "interrupted";
        } catch (RuntimeException e) { // an agent error or a malformed answer: recorded, the sweep powers it off
            outcome = "failed";
            detail = String.valueOf(e.getMessage());
        }
        step("vm", vm.id(), vm.name(), wave.number(), outcome, detail);
        p.audit().record(new AuditLog.Entry(actor, "site.shutdown.vm", "vm", vm.id(), vm.name(), null,
                Map.of("wave", wave.number(), "outcome", outcome), detail,
                outcome.equals("stopped") ? Outcome.SUCCESS : Outcome.FAILURE, null));
    }

    /**
     * Powers off at once (stop cause host-shutdown) whatever still runs on a reporting host: a guest that ignored its
     * shutdown, a VM the manager does not know, a VM started on a host that came back meanwhile. Each is a step and
     * an audit entry.
     */
    private void sweep() {
        for (HostRecord h : p.hosts().list()) {
            String endpoint = endpoint(h.id());
            if (endpoint == null) {
                continue;
            }
            try {
                // what runs now (draining a drained host changes nothing and answers its VMs' states)
                p.repo().drained(shutdown.id(), h.id());
                java.util.Set<String> ran = new java.util.HashSet<>();
                for (VmStatus s : p.agents().drain(endpoint, true)) {
                    if (s != null && s.vmId() != null && s.state() != null && s.state().hasProcess()) {
                        ran.add(s.vmId());
                    }
                }
                if (ran.isEmpty()) {
                    continue;
                }
                for (VmStatus s : p.agents().stopAll(endpoint, 0)) {
                    if (s == null || s.vmId() == null || s.state() == null || !ran.contains(s.vmId())) {
                        continue;
                    }
                    p.observed().put(h.id(), s);
                    VmRecord vm = p.vms().find(s.vmId()).orElse(null);
                    String name = vm == null ? s.vmId() : vm.name();
                    String detail = "powered off by the sweep" + (vm == null ? " (a VM the manager does not know)"
                            : "") + (s.state().hasProcess() ? "; still " + s.state().json() : "");
                    step("vm", s.vmId(), name, 0, s.state().hasProcess() ? "still-running" : "powered-off", detail);
                    p.audit().record(new AuditLog.Entry(actor, "site.shutdown.vm", "vm", s.vmId(), name, null,
                            Map.of("wave", 0, "outcome", "powered-off"), detail, Outcome.FAILURE, null));
                }
            } catch (RuntimeException e) {
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
                String action = a == null ? null : a.action();
                if (action == null || !List.of("none", "exit", "poweroff").contains(action)) {
                    throw new IllegalStateException("the agent answered the power-off with an action that is not"
                            + " none, exit or poweroff");
                }
                after.put("action", action);
                outcome = action.equals("none") ? "left-on" : "switched-off";
                detail = a.detail() == null ? action : a.detail();
            } catch (RuntimeException e) { // one host's failure must not keep the others on
                outcome = "failed";
                detail = String.valueOf(e.getMessage());
                try {
                    p.repo().poweredOff(h.id(), false); // it stays on and is watched again
                } catch (RuntimeException dbError) {
                    LOG.error("site shutdown: cannot unmark host {}: {}", h.name(), dbError.toString());
                }
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
