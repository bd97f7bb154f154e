package org.carevisor.manager.site;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.carevisor.manager.DomainException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.vm.ObservedStore;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.VmStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Orderly site shutdown: started by an operator ({@code carevisor site shutdown}) or by a UPS signal, run as the
 * task {@code site-shutdown} ({@link SiteShutdownProcedure}), resumed after a manager restart, cancelled before its
 * point of no return, and undone by {@link #resume} when the hosts that stayed on should take VMs again. Every step
 * is audited. Thread-safe.
 */
public final class SiteShutdownService {
    private static final Logger LOG = LoggerFactory.getLogger(SiteShutdownService.class);
    /** After a manager start, how long the hosts get to report before an interrupted shutdown is resumed. */
    private static final Duration RESUME_AFTER_START = Duration.ofSeconds(15);
    private static final String LOCK = "site";

    /** What an operator (or a UPS) asks for. */
    public record Request(Integer vmTimeoutSeconds, Boolean powerOffHosts) {
    }

    private final SiteShutdownProcedure.Parts parts;
    private final TaskService tasks;
    private final Instant startedAt = Instant.now();
    private volatile String runningId;

    SiteShutdownService(SiteShutdownProcedure.Parts parts, TaskService tasks) {
        this.parts = parts;
        this.tasks = tasks;
    }

    /** Wires the service from the manager's parts. */
    public static SiteShutdownService create(org.jdbi.v3.core.Jdbi jdbi, org.carevisor.manager.host.HostRepository hosts,
                                             org.carevisor.manager.host.HostBoard board,
                                             org.carevisor.manager.vm.VmRepository vms, ObservedStore observed,
                                             java.util.function.Supplier<Map<String, org.carevisor.manager.ha.VmHa>> ha,
                                             org.carevisor.manager.host.AgentClient agents, AuditLog audit,
                                             TaskService tasks) {
        return new SiteShutdownService(new SiteShutdownProcedure.Parts(new SiteShutdownRepository(jdbi), hosts, board,
                vms, observed, ha, agents, audit), tasks);
    }

    /**
     * Starts a site shutdown. Refused while one runs; {@code vmTimeoutSeconds} (default 120, 0-3600) is how long
     * each guest gets for its ACPI shutdown before it is powered off.
     */
    public TaskRecord start(Request r, String trigger, Actor actor) {
        int timeout = r.vmTimeoutSeconds() == null ? 120 : r.vmTimeoutSeconds();
        if (timeout < 0 || timeout > 3600) {
            throw DomainException.invalid("vmTimeoutSeconds", "must be between 0 and 3600 seconds, not " + timeout);
        }
        boolean powerOff = r.powerOffHosts() == null || r.powerOffHosts();
        synchronized (this) {
            SiteShutdownRepository.Shutdown latest = parts.repo().latest().orElse(null);
            if (latest != null && latest.running()) {
                throw DomainException.conflict("site-shutdown-running", "a site shutdown (" + latest.id()
                        + ", started by " + latest.actor() + ") is already running, in phase " + latest.phase()
                        + "; follow it with carevisor site status");
            }
            SiteShutdownRepository.Shutdown s = new SiteShutdownRepository.Shutdown(UUID.randomUUID().toString(),
                    "running", "drain", trigger, actor.name(), actor.reason(), timeout, powerOff, Instant.now(),
                    null, null);
            parts.repo().insert(s);
            Map<String, Object> after = new LinkedHashMap<>();
            after.put("trigger", trigger);
            after.put("vmTimeoutSeconds", timeout);
            after.put("powerOffHosts", powerOff);
            after.put("plan", plan().stream().map(w -> Map.of("wave", w.number(), "vms", w.vms().stream()
                    .map(ShutdownOrder.Vm::name).toList())).toList());
            parts.audit().record(new AuditLog.Entry(actor, "site.shutdown.start", "site", s.id(), "site", null, after,
                    actor.reason(), Outcome.SUCCESS, null));
            try {
                return submit(s, actor);
            } catch (RuntimeException e) { // e.g. the task lock still held by the previous one: nothing half-made
                parts.repo().finish(s.id(), "failed", "could not start: " + e.getMessage());
                parts.audit().record(new AuditLog.Entry(actor, "site.shutdown.failed", "site", s.id(), "site", null,
                        null, "could not start: " + e.getMessage(), Outcome.FAILURE, null));
                throw e;
            }
        }
    }

    private TaskRecord submit(SiteShutdownRepository.Shutdown s, Actor actor) {
        return tasks.submit("site-shutdown", new TaskRecord.Target("site", s.id(), "site"), actor, LOCK, ctx -> {
            runningId = s.id();
            try {
                new SiteShutdownProcedure(parts, s, actor).run(ctx);
            } catch (RuntimeException | Error e) {
                parts.repo().finish(s.id(), "failed", String.valueOf(e.getMessage()));
                parts.audit().record(new AuditLog.Entry(actor, "site.shutdown.failed", "site", s.id(), "site", null,
                        null, String.valueOf(e.getMessage()), Outcome.FAILURE, ctx.taskId()));
                throw e;
            } finally {
                runningId = null;
            }
        });
    }

    /** The order the VMs running now would stop in (what {@code carevisor site shutdown --dry-run} shows). */
    public List<ShutdownOrder.Wave> plan() {
        Map<String, org.carevisor.manager.ha.VmHa> ha = parts.ha().get();
        List<ShutdownOrder.Vm> running = new ArrayList<>();
        for (VmRecord vm : parts.vms().list()) {
            VmStatus s = parts.observed().get(vm.id()).map(ObservedStore.Observed::status).orElse(null);
            if (s != null && s.state().hasProcess() && vm.hostId() != null) {
                var h = ha.get(vm.id());
                boolean on = h != null && h.enabled();
                running.add(new ShutdownOrder.Vm(vm.id(), vm.name(), vm.hostId(), on ? h.priority() : -1,
                        on ? h.dependsOn() : List.of()));
            }
        }
        return ShutdownOrder.plan(running);
    }

    /**
     * Cancels a running shutdown (before its point of no return), or, after one ended, makes the hosts that stayed
     * on accept VM starts again; the reconcile loop then starts the VMs stopped in order, in start order.
     */
    public Map<String, Object> resume(Actor actor) {
        SiteShutdownRepository.Shutdown latest = parts.repo().latest().orElseThrow(() -> DomainException.conflict(
                "no-site-shutdown", "there was no site shutdown; nothing to resume"));
        Map<String, Object> out = new LinkedHashMap<>();
        if (latest.running()) {
            // stored with a guarded update: the step to the point of no return is refused once it is stored, and a
            // restarted manager honours it
            if (!parts.repo().requestCancel(latest.id(), actor.name())) {
                SiteShutdownRepository.Shutdown now = parts.repo().latest().orElse(latest);
                if (now.running() && parts.repo().cancelledBy(now.id()).isPresent()) {
                    throw DomainException.conflict("site-shutdown-cancelling", "the site shutdown is being cancelled"
                            + " already (by " + parts.repo().cancelledBy(now.id()).get() + "); follow it with"
                            + " carevisor site status");
                }
                throw DomainException.conflict("site-shutdown-past-return", "the site shutdown is switching the hosts"
                        + " off (past its point of no return); resume when it ended (carevisor site status)");
            }
            parts.audit().record(new AuditLog.Entry(actor, "site.shutdown.cancel", "site", latest.id(), "site", null,
                    null, actor.reason(), Outcome.SUCCESS, null));
            out.put("cancelled", latest.id());
            out.put("detail", "the site shutdown stops after the current wave; the hosts then accept VM starts again");
            return out;
        }
        List<String> resumed = new ArrayList<>();
        List<String> failed = SiteShutdownProcedure.undrain(parts, latest.id(), resumed);
        parts.audit().record(new AuditLog.Entry(actor, "site.resume", "site", latest.id(), "site", null,
                Map.of("hosts", resumed), failed.isEmpty() ? actor.reason() : "not resumed: " + String.join("; ",
                failed), failed.isEmpty() ? Outcome.SUCCESS : Outcome.FAILURE, null));
        out.put("resumedHosts", resumed);
        out.put("failedHosts", failed);
        out.put("detail", resumed.isEmpty() && failed.isEmpty() ? "no reporting host refuses VM starts; nothing to do"
                : "the hosts accept VM starts again; the VMs stopped in order start again in start order");
        return out;
    }

    /** Whether the running site shutdown (if one runs) switches the hosts off. */
    public Optional<Boolean> runningPowersOff() {
        return parts.repo().latest().filter(SiteShutdownRepository.Shutdown::running)
                .map(SiteShutdownRepository.Shutdown::powerOffHosts);
    }

    /** True while a site shutdown runs (the UPS monitor does not start a second one). */
    public boolean running() {
        return runningId != null || parts.repo().latest().map(SiteShutdownRepository.Shutdown::running).orElse(false);
    }

    /** The hosts a site shutdown switched off that have not come back (HA leaves them alone). */
    public Set<String> poweredOffHosts() {
        return parts.repo().poweredOffHosts();
    }

    /**
     * A host's report: a host that was switched off and reports again accepting VM starts (its agent restarted) is
     * back, and watched by HA again.
     */
    public void reported(HostReport report) {
        String hostId = report.inventory().hostId();
        if (parts.repo().poweredOffHosts().contains(hostId) && !report.inventory().shuttingDown()) {
            parts.repo().poweredOff(hostId, false);
            LOG.info("host {} reports again after the site shutdown; HA watches it again",
                    report.inventory().hostname());
            parts.audit().record(new AuditLog.Entry(Actor.system("site-shutdown"), "site.host-back", "host", hostId,
                    report.inventory().hostname(), null, null, "reports again after the site shutdown",
                    Outcome.SUCCESS, null));
        }
    }

    /** A job's pass: resumes a shutdown a previous manager process left running (after the hosts had time to report). */
    public void recover() {
        if (runningId != null || Instant.now().isBefore(startedAt.plus(RESUME_AFTER_START))) {
            return;
        }
        synchronized (this) {
            SiteShutdownRepository.Shutdown latest = parts.repo().latest().orElse(null);
            if (latest == null || !latest.running() || runningId != null || tasks.isLocked(LOCK)) {
                return;
            }
            LOG.warn("resuming the site shutdown {} from phase {} (the manager restarted while it ran)", latest.id(),
                    latest.phase());
            Actor actor = Actor.system("site-shutdown");
            parts.audit().record(new AuditLog.Entry(actor, "site.shutdown.resumed", "site", latest.id(), "site", null,
                    Map.of("phase", latest.phase()), "the manager restarted while the site shutdown ran",
                    Outcome.SUCCESS, null));
            submit(latest, actor);
        }
    }

    /** The latest site shutdown with its steps, and the hosts' state (for {@code carevisor site status}). */
    public Map<String, Object> status() {
        Map<String, Object> out = new LinkedHashMap<>();
        SiteShutdownRepository.Shutdown latest = parts.repo().latest().orElse(null);
        if (latest != null) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("id", latest.id());
            s.put("state", latest.state());
            s.put("phase", latest.phase());
            s.put("trigger", latest.trigger());
            s.put("actor", latest.actor());
            s.put("reason", latest.reason());
            s.put("vmTimeoutSeconds", latest.vmTimeoutSeconds());
            s.put("powerOffHosts", latest.powerOffHosts());
            s.put("startedAt", latest.startedAt());
            s.put("finishedAt", latest.finishedAt());
            s.put("detail", latest.detail());
            s.put("steps", parts.repo().steps(latest.id()));
            out.put("shutdown", s);
        } else {
            out.put("shutdown", null);
        }
        List<Map<String, Object>> hosts = new ArrayList<>();
        for (HostRecord h : parts.hosts().list()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", h.id());
            m.put("name", h.name());
            boolean connected = parts.board().connected(h.id());
            m.put("state", parts.repo().poweredOffHosts().contains(h.id()) ? (connected ? "left-on" : "switched-off")
                    : !connected ? "not-reporting" : parts.board().shuttingDown(h.id()) ? "refusing-starts" : "up");
            hosts.add(m);
        }
        out.put("hosts", hosts);
        out.put("plan", plan().stream().map(w -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("wave", w.number());
            m.put("vms", w.vms().stream().map(ShutdownOrder.Vm::name).toList());
            m.put("why", w.why());
            return m;
        }).toList());
        return out;
    }
}
