package org.carevisor.manager.api;

import io.javalin.http.Context;
import org.carevisor.manager.snapshot.SnapshotService;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.template.TemplateRequests;
import org.carevisor.manager.template.TemplateService;
import org.carevisor.manager.transfer.TransferService;
import org.carevisor.manager.vm.VmRequests;
import org.carevisor.manager.vm.VmService;

/** Endpoints of VMs as files: templates, clones, snapshots, export/import, archive/restore. */
final class LifecycleRoutes {
    private final TemplateService templates;
    private final SnapshotService snapshots;
    private final TransferService transfer;
    private final VmService vms;

    LifecycleRoutes(TemplateService templates, SnapshotService snapshots, TransferService transfer, VmService vms) {
        this.templates = templates;
        this.snapshots = snapshots;
        this.transfer = transfer;
        this.vms = vms;
    }

    void register(ApiRoutes.Registrar r) {
        String t = "/api/v1/templates";
        r.add("GET", t, ctx -> ctx.json(templates.list()));
        r.add("POST", t, ctx -> accepted(ctx, templates.create(RequestBody.read(ctx, TemplateRequests.Create.class), ApiServer.actor(ctx))));
        r.add("GET", t + "/{id}", ctx -> ctx.json(templates.view(ctx.pathParam("id"))));
        r.add("DELETE", t + "/{id}", ctx -> accepted(ctx, templates.delete(ctx.pathParam("id"), ApiServer.actor(ctx))));
        r.add("POST", t + "/{id}/qualify", ctx -> accepted(ctx, templates.qualify(ctx.pathParam("id"),
                reason(ctx), ApiServer.actor(ctx))));
        r.add("POST", t + "/{id}/retire", ctx -> ctx.json(templates.retire(ctx.pathParam("id"), reason(ctx),
                ApiServer.actor(ctx))));
        r.add("POST", t + "/{id}/deploy", ctx -> created(ctx, templates.deploy(ctx.pathParam("id"),
                RequestBody.read(ctx, TemplateRequests.Deploy.class), ApiServer.actor(ctx))));

        String vm = "/api/v1/vms/{id}";
        r.add("POST", vm + "/clone", ctx -> created(ctx, vms.clone(ctx.pathParam("id"),
                RequestBody.read(ctx, VmRequests.Clone.class), ApiServer.actor(ctx))));
        r.add("GET", vm + "/snapshots", ctx -> ctx.json(snapshots.list(ctx.pathParam("id"))));
        r.add("POST", vm + "/snapshots", ctx -> accepted(ctx, snapshots.create(ctx.pathParam("id"),
                RequestBody.read(ctx, SnapshotService.Create.class), ApiServer.actor(ctx))));
        r.add("GET", vm + "/snapshots/{snapshot}", ctx -> ctx.json(snapshots.get(ctx.pathParam("id"),
                ctx.pathParam("snapshot"))));
        r.add("POST", vm + "/snapshots/{snapshot}/revert", ctx -> accepted(ctx, snapshots.revert(ctx.pathParam("id"),
                ctx.pathParam("snapshot"), ApiServer.actor(ctx))));
        r.add("DELETE", vm + "/snapshots/{snapshot}", ctx -> accepted(ctx, snapshots.delete(ctx.pathParam("id"),
                ctx.pathParam("snapshot"), ApiServer.actor(ctx))));
        r.add("POST", vm + "/export", ctx -> accepted(ctx, transfer.export(ctx.pathParam("id"), ApiServer.actor(ctx))));
        r.add("POST", vm + "/archive", ctx -> accepted(ctx, transfer.archive(ctx.pathParam("id"),
                ctx.bodyAsBytes().length == 0 ? null : RequestBody.read(ctx, TransferService.Archive.class)
                        .reason(), ApiServer.actor(ctx))));
        r.add("POST", vm + "/restore", ctx -> accepted(ctx, transfer.restore(ctx.pathParam("id"), ApiServer.actor(ctx))));
        r.add("POST", "/api/v1/vm-imports", ctx -> created(ctx, transfer.importVm(RequestBody.read(ctx, TransferService.Import.class), ApiServer.actor(ctx))));
    }

    private static String reason(Context ctx) {
        return ctx.bodyAsBytes().length == 0 ? null : RequestBody.read(ctx, TemplateRequests.Reason.class).reason();
    }

    static void accepted(Context ctx, TaskRecord task) {
        ctx.status(202).header("Location", "/api/v1/tasks/" + task.id()).json(task);
    }

    /** 202 with the task that makes a new VM; Location names the VM. */
    static void created(Context ctx, VmService.Created c) {
        ctx.status(202).header("Location", "/api/v1/vms/" + c.vm().id()).json(c.task());
    }
}
