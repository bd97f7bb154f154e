package org.carevisor.manager.api;

import io.javalin.http.Context;
import java.util.ArrayList;
import java.util.List;
import org.carevisor.manager.auth.AccessPolicy;
import org.carevisor.manager.auth.Privilege;
import org.carevisor.manager.cluster.ClusterRecord;
import org.carevisor.manager.ha.HaSettings;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.host.HostService;
import org.carevisor.manager.migration.MigrationService;
import org.carevisor.manager.placement.Rule;
import org.carevisor.manager.template.TemplateRequests;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRequests;

/**
 * What a request must be allowed: the object of its route ({@link AccessPolicy.Target}) and every further object
 * its body names - the host and cluster of a new VM, the cluster a host moves to (and the one it leaves), the
 * destination host of a migration, the VM a template is made of, the cluster a clone lands in, the VMs an HA
 * setting depends on, the VMs of a placement rule - and the changes that lower an object's protection class,
 * which always need an electronic signature. Body references are resolved here once and the body is kept with
 * the ids that were checked ({@link RequestBody#checked}), so the endpoint works on what was authorized.
 * Thread-safe.
 */
final class RequestTargets {
    /** Signature action of removing a VM's GxP mark (always signed: it lowers the VM's protection class). */
    static final String GXP_REMOVE = "vm.gxp-remove";
    /** Signature action of retiring a qualified template (always signed: it is no longer qualified). */
    static final String QUALIFIED_RETIRE = "template.retire";

    /** One privilege on one object; {@code changed}: the object's classes count for the reason rule. */
    record Check(Privilege privilege, Targets.Target target, boolean changed) {
    }

    /** The checks beyond the route's own object, and a signature the change needs whatever the settings say. */
    record Extra(List<Check> checks, String mandatorySignature) {
        static final Extra NONE = new Extra(List.of(), null);
    }

    private final Targets targets;

    RequestTargets(Targets targets) {
        this.targets = targets;
    }

    Targets targets() {
        return targets;
    }

    /** The route's own object. */
    Targets.Target main(Context ctx, AccessPolicy.Rule rule) {
        return switch (rule.target()) {
            case GLOBAL, ANY, PUBLIC, SELF -> {
                String path = ctx.endpointHandlerPath();
                yield path.startsWith("/api/v1/users") || path.startsWith("/api/v1/roles")
                        || path.startsWith("/api/v1/settings") ? Targets.usersAndRoles() : Targets.everything();
            }
            case VM -> targets.vm(ctx.pathParam("id"));
            case HOST -> targets.host(ctx.pathParam("id"));
            case CLUSTER -> targets.cluster(ctx.pathParam("id"));
            case CLUSTER_IN_BODY -> newVmPlace(ctx);
            case TASK -> targets.task(ctx.pathParam("id"));
            case TEMPLATE -> targets.template(ctx.pathParam("id"));
            case PLACEMENT_RULE -> {
                Rule r = targets.rule(ctx.pathParam("id"));
                yield r == null ? new Targets.Target(List.of(org.carevisor.manager.auth.Scope.EVERYTHING),
                        "placement rule '" + ctx.pathParam("id") + "'", "placement-rule", ctx.pathParam("id"),
                        List.of(), false, false)
                        : new Targets.Target(List.of(org.carevisor.manager.auth.Scope.EVERYTHING),
                        "placement rule '" + r.name() + "'", "placement-rule", r.id(), List.of(), false);
            }
        };
    }

    /**
     * Where a new VM will be: on the named host (its scope path holds its cluster), else in the named cluster,
     * else in the cluster the VM service would choose. The body of {@code POST /vms} is kept with those ids.
     */
    private Targets.Target newVmPlace(Context ctx) {
        if (!ctx.endpointHandlerPath().equals("/api/v1/vms")) {
            // deploy, import: an optional "cluster" (id or name), else where the VM service places a new VM
            String ref = RequestBody.text(RequestBody.tree(ctx), "cluster");
            return ref != null ? targets.cluster(ref) : Targets.cluster(targets.placementCluster());
        }
        VmRequests.Create c = RequestBody.read(ctx, VmRequests.Create.class);
        if (c.host() != null) {
            HostRecord h = targets.hostRecord(c.host());
            if (h == null) {
                return targets.host(c.host());
            }
            ClusterRecord named = c.cluster() == null ? null : targets.clusterRecord(c.cluster());
            String cluster = c.cluster() == null ? h.clusterId() : named != null ? named.id() : c.cluster();
            RequestBody.checked(ctx, VmRequests.Create.class, withPlace(c, cluster, h.id()));
            return Targets.host(h);
        }
        ClusterRecord cluster = c.cluster() == null ? targets.placementCluster() : targets.clusterRecord(c.cluster());
        if (cluster == null) {
            return targets.cluster(c.cluster());
        }
        RequestBody.checked(ctx, VmRequests.Create.class, withPlace(c, cluster.id(), null));
        return Targets.cluster(cluster);
    }

    private static VmRequests.Create withPlace(VmRequests.Create c, String cluster, String host) {
        return new VmRequests.Create(c.name(), c.description(), c.cpus(), c.memoryMiB(), c.image(), c.diskSizeMiB(),
                c.disks(), c.nics(), c.start(), cluster, host, c.storage());
    }

    /** The further checks of the route, after the route's own object passed. */
    Extra extra(Context ctx, AccessPolicy.Rule rule, Targets.Target main) {
        String route = ctx.method().name() + " " + ctx.endpointHandlerPath();
        return switch (route) {
            case "POST /api/v1/vms" -> newVmCluster(ctx);
            case "PATCH /api/v1/hosts/{id}" -> main.exists() ? hostMove(ctx, main) : Extra.NONE;
            case "POST /api/v1/vms/{id}/migrate" -> migrationDestination(ctx);
            case "POST /api/v1/templates" -> templateSource(ctx);
            case "POST /api/v1/vms/{id}/clone" -> cloneCluster(main);
            case "PATCH /api/v1/vms/{id}/ha" -> haDependencies(ctx);
            case "PATCH /api/v1/vms/{id}" -> gxpRemoval(ctx, main);
            case "POST /api/v1/templates/{id}/retire" -> main.classes().contains("template.qualified")
                    ? new Extra(List.of(), QUALIFIED_RETIRE) : Extra.NONE;
            case "GET /api/v1/placement-rules/{id}" -> ruleMembers(main);
            default -> Extra.NONE;
        };
    }

    /** A new VM on a named host and in a named cluster that is not the host's: the cluster is checked too. */
    private Extra newVmCluster(Context ctx) {
        VmRequests.Create c = RequestBody.read(ctx, VmRequests.Create.class);
        if (c.host() == null || c.cluster() == null) {
            return Extra.NONE;
        }
        HostRecord h = targets.hostRecord(c.host());
        if (h == null || h.clusterId().equals(c.cluster())) {
            return Extra.NONE;
        }
        return new Extra(List.of(new Check(Privilege.VM_CONFIGURE, targets.cluster(c.cluster()), false)), null);
    }

    /** Moving a host to another cluster needs the privilege on the cluster it leaves and the one it joins. */
    private Extra hostMove(Context ctx, Targets.Target host) {
        HostService.HostPatch p = RequestBody.read(ctx, HostService.HostPatch.class);
        if (p.cluster() == null) {
            return Extra.NONE;
        }
        HostRecord h = targets.hostRecord(host.id());
        ClusterRecord to = targets.clusterRecord(p.cluster());
        if (to == null) {
            return new Extra(List.of(new Check(Privilege.HOST_ADMIN, targets.cluster(p.cluster()), true)), null);
        }
        RequestBody.checked(ctx, HostService.HostPatch.class, new HostService.HostPatch(to.id(), p.tags(),
                p.reservedMemoryMiB(), p.description()));
        if (h == null || to.id().equals(h.clusterId())) {
            return Extra.NONE;
        }
        return new Extra(List.of(new Check(Privilege.HOST_ADMIN, targets.cluster(h.clusterId()), true),
                new Check(Privilege.HOST_ADMIN, Targets.cluster(to), true)), null);
    }

    /** A migration to a named host needs the privilege on that host too (the VM enters its scope). */
    private Extra migrationDestination(Context ctx) {
        MigrationService.Request r = RequestBody.readOr(ctx, MigrationService.Request.class,
                new MigrationService.Request(null, null, null, null, null));
        if (r.host() == null) {
            return Extra.NONE;
        }
        HostRecord h = targets.hostRecord(r.host());
        if (h == null) {
            return new Extra(List.of(new Check(Privilege.VM_MIGRATE, targets.host(r.host()), false)), null);
        }
        RequestBody.checked(ctx, MigrationService.Request.class, new MigrationService.Request(h.id(),
                r.bandwidthMiBps(), r.downtimeLimitMs(), r.autoConverge(), r.reason()));
        return new Extra(List.of(new Check(Privilege.VM_MIGRATE, Targets.host(h), false)), null);
    }

    /** Making a template consumes the VM: VM.Configure on it as for a delete. */
    private Extra templateSource(Context ctx) {
        TemplateRequests.Create c = RequestBody.read(ctx, TemplateRequests.Create.class);
        if (c.vm() == null) {
            return Extra.NONE;
        }
        VmRecord vm = targets.vmRecord(c.vm());
        if (vm == null) {
            return new Extra(List.of(new Check(Privilege.VM_CONFIGURE, targets.vm(c.vm()), true)), null);
        }
        RequestBody.checked(ctx, TemplateRequests.Create.class, new TemplateRequests.Create(vm.id(), c.name(),
                c.description(), c.guestOs()));
        return new Extra(List.of(new Check(Privilege.VM_CONFIGURE, Targets.vm(vm), true)), null);
    }

    /** A clone is a new VM in the source's cluster: VM.Configure there, as for any new VM. */
    private Extra cloneCluster(Targets.Target source) {
        VmRecord vm = source.exists() ? targets.vmRecord(source.id()) : null;
        if (vm == null) {
            return Extra.NONE;
        }
        return new Extra(List.of(new Check(Privilege.VM_CONFIGURE, targets.cluster(vm.clusterId()), false)), null);
    }

    /** A VM whose restart waits for other VMs: the caller must see those VMs. */
    private Extra haDependencies(Context ctx) {
        HaSettings.VmRequest r = RequestBody.read(ctx, HaSettings.VmRequest.class);
        if (r.dependsOn() == null || r.dependsOn().isEmpty()) {
            return Extra.NONE;
        }
        List<Check> checks = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (String ref : r.dependsOn()) {
            if (ref == null) {
                ids.add(null);
                continue;
            }
            VmRecord vm = targets.vmRecord(ref);
            checks.add(new Check(Privilege.SYS_VIEW, vm == null ? targets.vm(ref) : Targets.vm(vm), false));
            ids.add(vm == null ? ref : vm.id());
        }
        RequestBody.checked(ctx, HaSettings.VmRequest.class, new HaSettings.VmRequest(r.enabled(), r.priority(),
                ids, r.healthCheck(), r.healthIntervalSeconds(), r.healthFailures(), r.maxRestartsPerHour(),
                r.reason()));
        return new Extra(checks, null);
    }

    /** Removing the GxP mark lowers the VM's protection class (its deletion would need no signature). */
    private Extra gxpRemoval(Context ctx, Targets.Target vm) {
        if (!vm.gxp()) {
            return Extra.NONE;
        }
        VmRequests.Patch p = RequestBody.read(ctx, VmRequests.Patch.class);
        return Boolean.FALSE.equals(p.gxp()) ? new Extra(List.of(), GXP_REMOVE) : Extra.NONE;
    }

    /** A placement rule is shown to those who may see every VM it names. */
    private Extra ruleMembers(Targets.Target main) {
        Rule r = main.exists() ? targets.rule(main.id()) : null;
        if (r == null) {
            return Extra.NONE;
        }
        List<Check> checks = new ArrayList<>();
        for (String vmId : r.vmIds()) {
            checks.add(new Check(Privilege.SYS_VIEW, targets.vm(vmId), false));
        }
        return new Extra(checks, null);
    }
}
