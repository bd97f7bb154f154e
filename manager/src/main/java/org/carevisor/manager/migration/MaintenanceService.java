package org.carevisor.manager.migration;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.task.TaskState;
import org.carevisor.manager.vm.ObservedStore;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.protocol.VmState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maintenance mode: a host in maintenance takes no new VMs (the scheduler refuses it); entering it moves
 * every running VM away live, following the placement rules, and reports each VM that could not be moved
 * and why. Stopped VMs stay assigned and start elsewhere. Leaving maintenance makes the host available again.
 */
public final class MaintenanceService {
    private static final Logger LOG = LoggerFactory.getLogger(MaintenanceService.class);
    private static final Duration EVACUATION_LIMIT = Duration.ofHours(6);

    /** One VM's outcome of an evacuation. */
    public record VmOutcome(String vm, String result, String detail, String taskId) {
    }

    private final HostRepository hosts;
    private final VmRepository vms;
    private final ObservedStore observed;
    private final MigrationService migrations;
    private final TaskService tasks;
    private final AuditLog audit;
    private final Map<String, List<VmOutcome>> lastOutcome = new java.util.concurrent.ConcurrentHashMap<>();

    public MaintenanceService(HostRepository hosts, VmRepository vms, ObservedStore observed,
                              MigrationService migrations, TaskService tasks, AuditLog audit) {
        this.hosts = hosts;
        this.vms = vms;
        this.observed = observed;
        this.migrations = migrations;
        this.tasks = tasks;
        this.audit = audit;
    }

    /** Puts the host in maintenance at once, then evacuates it in a task. */
    public TaskRecord enter(HostRecord host, String reason, Actor actor) {
        if (reason != null && reason.length() > 2000) {
            throw ApiException.invalid("reason", "must be at most 2000 characters");
        }
        return tasks.submit("host.maintenance", new TaskRecord.Target("host", host.id(), host.name()), actor,
                "host:" + host.id(), ctx -> {
                    if (!host.maintenance()) {
                        hosts.jdbi().useTransaction(h -> {
                            hosts.setMaintenance(h, host.id(), true, reason, Instant.now());
                            audit.record(h, new AuditLog.Entry(actor, "host.maintenance.enter", "host", host.id(),
                                    host.name(), Map.of("maintenance", false), Map.of("maintenance", true), reason,
                                    Outcome.SUCCESS, ctx.taskId()));
                        });
                    }
                    List<VmRecord> running = runningOn(host.id());
                    ctx.progress(5, "host takes no new VMs; moving " + running.size() + " running VM(s) away");
                    List<VmOutcome> outcome = new ArrayList<>();
                    Map<String, TaskRecord> started = new LinkedHashMap<>();
                    for (VmRecord vm : running) {
                        if (vm.onLocalStorage()) {
                            outcome.add(new VmOutcome(vm.name(), "not-moved", "its disks are on this host's local"
                                    + " storage; shut it down for the maintenance", null));
                            continue;
                        }
                        try {
                            started.put(vm.name(), migrations.migrate(vm.id(), new MigrationService.Request(null, null,
                                    null, null, "maintenance of host " + host.name()), actor, "maintenance"));
                        } catch (ApiException e) {
                            outcome.add(new VmOutcome(vm.name(), "not-moved", e.getMessage(), null));
                        }
                    }
                    int done = 0;
                    for (Map.Entry<String, TaskRecord> e : started.entrySet()) {
                        TaskRecord t = tasks.await(e.getValue().id(), EVACUATION_LIMIT);
                        done++;
                        ctx.progress(5 + 90 * done / Math.max(1, started.size()), "moved " + done + " of "
                                + started.size() + " VM(s)");
                        outcome.add(t.state() == TaskState.SUCCEEDED
                                ? new VmOutcome(e.getKey(), "moved", t.message(), t.id())
                                : new VmOutcome(e.getKey(), "not-moved", t.error() == null ? t.state().json()
                                : t.error().detail(), t.id()));
                    }
                    lastOutcome.put(host.id(), outcome);
                    List<VmOutcome> notMoved = outcome.stream().filter(o -> !o.result().equals("moved")).toList();
                    long moved = outcome.size() - notMoved.size();
                    String summary = "host " + host.name() + " is in maintenance; " + moved + " VM(s) moved";
                    if (!notMoved.isEmpty()) {
                        String detail = summary + ", " + notMoved.size() + " could not be moved: " + String.join("; ",
                                notMoved.stream().map(o -> o.vm() + " (" + o.detail() + ")").toList());
                        audit.record(new AuditLog.Entry(actor, "host.maintenance.evacuate", "host", host.id(),
                                host.name(), null, Map.of("moved", moved, "notMoved", notMoved.size()), detail,
                                Outcome.FAILURE, ctx.taskId()));
                        throw new ApiException(409, "evacuation-incomplete", "Not every VM could be moved", detail, null);
                    }
                    audit.record(new AuditLog.Entry(actor, "host.maintenance.evacuate", "host", host.id(), host.name(),
                            null, Map.of("moved", moved), null, Outcome.SUCCESS, ctx.taskId()));
                    ctx.message(summary + (moved == 0 ? "" : ": " + String.join(", ",
                            outcome.stream().map(VmOutcome::vm).toList())));
                    LOG.info(summary);
                });
    }

    /** Leaves maintenance: the scheduler may place VMs on the host again. */
    public void exit(HostRecord host, Actor actor) {
        if (!host.maintenance()) {
            throw ApiException.conflict("not-in-maintenance", "host " + host.name() + " is not in maintenance");
        }
        if (tasks.isLocked("host:" + host.id())) {
            throw ApiException.conflict("busy", "host " + host.name() + " is still being evacuated; wait for the"
                    + " maintenance task to finish");
        }
        hosts.jdbi().useTransaction(h -> {
            hosts.setMaintenance(h, host.id(), false, null, null);
            audit.record(h, new AuditLog.Entry(actor, "host.maintenance.exit", "host", host.id(), host.name(),
                    Map.of("maintenance", true), Map.of("maintenance", false), null, Outcome.SUCCESS, null));
        });
    }

    /** What the last evacuation of the host did with each VM. */
    public List<VmOutcome> lastOutcome(String hostId) {
        return lastOutcome.getOrDefault(hostId, List.of());
    }

    /** VMs with a QEMU process on the host. */
    public List<VmRecord> runningOn(String hostId) {
        return vms.onHost(hostId).stream().filter(v -> observed.get(v.id()).map(o -> o.status().state())
                .orElse(VmState.STOPPED).hasProcess()).toList();
    }
}
