package org.carevisor.manager.api;

import java.util.List;
import org.carevisor.manager.auth.Scope;
import org.carevisor.manager.cluster.ClusterRecord;
import org.carevisor.manager.cluster.ClusterService;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.host.HostService;
import org.carevisor.manager.placement.PlacementService;
import org.carevisor.manager.placement.Rule;
import org.carevisor.manager.placement.RuleService;
import org.carevisor.manager.task.TaskRecord;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.template.TemplateRecord;
import org.carevisor.manager.template.TemplateService;
import org.carevisor.manager.template.TemplateState;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmService;

/**
 * Finds the objects a request names - in its path or its body - with their scope paths, for the {@link Guard}.
 * An object that does not exist is checked against the global scope only: without a global privilege the caller
 * gets 403 and learns nothing about which names exist. Thread-safe.
 */
final class Targets {
    /**
     * An object as authorization sees it.
     *
     * @param path    every scope that contains it (global first)
     * @param classes its object classes for reasons ({@code vm}, {@code vm.gxp}, {@code template.qualified}, ...)
     * @param gxp     true for a VM marked GxP
     * @param exists  false for a name that matched nothing (checked against the global scope)
     */
    record Target(List<Scope> path, String label, String type, String id, List<String> classes, boolean gxp,
                  boolean exists) {
        Target(List<Scope> path, String label, String type, String id, List<String> classes, boolean gxp) {
            this(path, label, type, id, classes, gxp, true);
        }
    }

    private final VmService vms;
    private final HostService hosts;
    private final ClusterService clusters;
    private final TaskService tasks;
    private final TemplateService templates;
    private final PlacementService placement;
    private final RuleService rules;

    Targets(VmService vms, HostService hosts, ClusterService clusters, TaskService tasks, TemplateService templates,
            PlacementService placement, RuleService rules) {
        this.vms = vms;
        this.hosts = hosts;
        this.clusters = clusters;
        this.tasks = tasks;
        this.templates = templates;
        this.placement = placement;
        this.rules = rules;
    }

    static Target everything() {
        return new Target(List.of(Scope.EVERYTHING), "everything", null, null, List.of(), false);
    }

    static Target usersAndRoles() {
        return new Target(List.of(Scope.EVERYTHING), "users and roles", "user", null, List.of("user"), false);
    }

    private static Target unknown(String type, String label, String ref, List<String> classes) {
        return new Target(List.of(Scope.EVERYTHING), label + " '" + ref + "'", type, ref, classes, false, false);
    }

    VmRecord vmRecord(String ref) {
        try {
            return vms.get(ref);
        } catch (ApiException e) {
            return null;
        }
    }

    Target vm(String ref) {
        VmRecord vm = vmRecord(ref);
        return vm == null ? unknown("vm", "VM", ref, List.of("vm")) : vm(vm);
    }

    static Target vm(VmRecord vm) {
        List<String> classes = vm.gxp() ? List.of("vm", "vm.gxp") : List.of("vm");
        return new Target(Scope.ofVm(vm.clusterId(), vm.hostId(), vm.id()), "VM '" + vm.name() + "'", "vm", vm.id(),
                classes, vm.gxp());
    }

    HostRecord hostRecord(String ref) {
        try {
            return hosts.get(ref);
        } catch (ApiException e) {
            return null;
        }
    }

    Target host(String ref) {
        HostRecord h = hostRecord(ref);
        return h == null ? unknown("host", "host", ref, List.of("host")) : host(h);
    }

    static Target host(HostRecord h) {
        return new Target(Scope.ofHost(h.clusterId(), h.id()), "host '" + h.name() + "'", "host", h.id(),
                List.of("host"), false);
    }

    ClusterRecord clusterRecord(String ref) {
        try {
            return clusters.get(ref);
        } catch (ApiException e) {
            return null;
        }
    }

    Target cluster(String ref) {
        ClusterRecord c = clusterRecord(ref);
        return c == null ? unknown("cluster", "cluster", ref, List.of("cluster")) : cluster(c);
    }

    static Target cluster(ClusterRecord c) {
        return new Target(Scope.ofCluster(c.id()), "cluster '" + c.name() + "'", "cluster", c.id(),
                List.of("cluster"), false);
    }

    /** The cluster a new VM without a named cluster or host goes to (the same choice the VM service makes). */
    ClusterRecord placementCluster() {
        return placement.clusterFor(null, null);
    }

    /** True when task {@code id} exists and was started by {@code username}. */
    boolean startedBy(String id, String username) {
        return tasks.find(id).map(t -> t.actor() != null && t.actor().equals(username)).orElse(false);
    }

    Target task(String id) {
        TaskRecord t = tasks.find(id).orElse(null);
        if (t == null || t.target() == null) {
            return new Target(List.of(Scope.EVERYTHING), "task " + id, "task", id, List.of(), false, t != null);
        }
        Target inner = switch (t.target().type()) {
            case "vm" -> vm(t.target().id());
            case "host" -> host(t.target().id());
            default -> everything();
        };
        return new Target(inner.path(), "task " + id + " of " + inner.label(), "task", id, List.of(), false);
    }

    TemplateRecord templateRecord(String ref) {
        try {
            return templates.get(ref);
        } catch (ApiException e) {
            return null;
        }
    }

    Target template(String ref) {
        TemplateRecord t = templateRecord(ref);
        if (t == null) {
            return unknown("template", "template", ref, List.of("template"));
        }
        List<String> classes = t.state() == TemplateState.QUALIFIED ? List.of("template", "template.qualified")
                : List.of("template");
        return new Target(List.of(Scope.EVERYTHING), "template '" + t.name() + "' v" + t.version(), "template", t.id(),
                classes, false);
    }

    /** A placement rule: the global scope (the rule itself is global); its VMs are checked one by one. */
    Rule rule(String ref) {
        try {
            return rules.get(ref);
        } catch (ApiException e) {
            return null;
        }
    }
}
