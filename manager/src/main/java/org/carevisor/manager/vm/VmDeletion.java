package org.carevisor.manager.vm;

import java.util.Map;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.host.AgentClient;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.task.TaskService;
import org.carevisor.protocol.VmState;

/**
 * Deleting a VM as a task in an order that leaves nothing half-made: the record is marked {@code deleting};
 * the VM is powered off and its runtime files removed (a failure here puts the record back as it was); then
 * the disks (and an archive file) are removed and finally the record goes with its audit record. Everything
 * the final transaction writes is bounded before the disks go (the reason was bounded at input, the audit
 * writer keeps a record within its column), so it cannot fail for the data; should it fail for another reason
 * (the database is gone), or should the disk step fail half-way, the VM stays {@code deleting} - a state that
 * says its disks may be partly gone - and a second delete finishes the job (deleting missing disks is not an
 * error). Thread-safe (stateless apart from its collaborators).
 */
final class VmDeletion {
    private final VmRepository repo;
    private final ObservedStore observed;
    private final AgentClient agents;
    private final TaskService tasks;
    private final AuditLog audit;
    private final VmPowerService power;

    VmDeletion(VmRepository repo, ObservedStore observed, AgentClient agents, TaskService tasks, AuditLog audit,
               VmPowerService power) {
        this.repo = repo;
        this.observed = observed;
        this.agents = agents;
        this.tasks = tasks;
        this.audit = audit;
        this.power = power;
    }

    TaskRecord delete(VmRecord vm, boolean force, Actor actor) {
        VmState state = power.observedState(vm);
        boolean running = state.hasProcess() || state == VmState.UNKNOWN && vm.powerState() != PowerState.STOPPED;
        if (running && !force) {
            throw ApiException.conflict("vm-running", "VM '" + vm.name() + "' is " + state.json()
                    + "; shut it down first, or delete with --force (force=true) to power it off and delete it");
        }
        String endpoint = power.endpointOf(vm);
        boolean retry = vm.lifecycle() == Lifecycle.DELETING;
        Lifecycle before = retry ? Lifecycle.READY : vm.lifecycle();
        String note = force && running ? "forced while " + state.json() : retry ? "finishing an earlier delete" : null;
        return tasks.submit("vm.delete", VmService.target(vm), actor, vm.id(), ctx -> {
            repo.jdbi().useTransaction(h -> repo.setLifecycle(h, vm.id(), Lifecycle.DELETING));
            try {
                if (power.observedState(vm).hasProcess()) {
                    ctx.progress(10, "powering off");
                    power.powerOffNow(vm, endpoint);
                }
                ctx.progress(50, "removing runtime files");
                agents.undefine(endpoint, vm.id());
            } catch (Exception e) {
                // nothing of the VM's data is gone yet: it is as it was
                fail(vm, retry ? Lifecycle.DELETING : before, actor, ctx.taskId(), e);
                throw e;
            }
            try {
                ctx.progress(70, "deleting disks");
                agents.deleteVmDisks(endpoint, vm.id());
                if (vm.archivePath() != null) {
                    agents.deleteFiles(endpoint, vm.archivePath());
                }
            } catch (Exception e) {
                // some disks may be gone: the VM stays "deleting", and deleting it again finishes the job
                fail(vm, Lifecycle.DELETING, actor, ctx.taskId(), e);
                throw ApiException.conflict("delete-incomplete", "VM '" + vm.name() + "' could not be deleted"
                        + " completely (" + e.getMessage() + "); it stays 'deleting' - delete it again once the host"
                        + " is fixed");
            }
            repo.jdbi().useTransaction(h -> {
                repo.delete(h, vm.id());
                audit.record(h, new AuditLog.Entry(actor, "vm.delete", "vm", vm.id(), vm.name(),
                        VmService.definition(vm), null, note, Outcome.SUCCESS, ctx.taskId()));
            });
            observed.remove(vm.id());
            ctx.message("VM " + vm.name() + " and its disks deleted");
        });
    }

    private void fail(VmRecord vm, Lifecycle back, Actor actor, String taskId, Exception e) {
        repo.jdbi().useTransaction(h -> {
            repo.setLifecycle(h, vm.id(), back);
            audit.record(h, new AuditLog.Entry(actor, "vm.delete", "vm", vm.id(), vm.name(), VmService.definition(vm),
                    back == Lifecycle.DELETING ? Map.of("lifecycle", "deleting") : null, e.getMessage(),
                    Outcome.FAILURE, taskId));
        });
    }
}
