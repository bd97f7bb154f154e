package org.carevisor.manager.ha;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.cluster.ClusterRecord;
import org.carevisor.manager.ha.fence.FenceTargets;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.protocol.ReportAck;

/**
 * Reading and changing HA settings of VMs, clusters and hosts: every field validated (the error names it and
 * nothing is stored), every change audited with old and new value (fence secrets never appear). Thread-safe.
 */
public final class HaSettings {
    /**
     * A change of a VM's HA settings; null fields keep their value, an empty health check removes it. The
     * {@code reason} (here or in the reason header) is taken by the request guard into the audit record.
     */
    public record VmRequest(Boolean enabled, Integer priority, List<String> dependsOn, String healthCheck,
                            Integer healthIntervalSeconds, Integer healthFailures, Integer maxRestartsPerHour,
                            String reason) {
    }

    /** A change of a cluster's HA settings; null fields keep their value. */
    public record ClusterRequest(Boolean admissionControl, String isolationResponse, String reason) {
    }

    /** A host's fence settings; {@code kind} {@code none} removes them. */
    public record FenceRequest(String kind, String address, String username, String password, String target,
                               String caPem, String reason) {
    }

    private final HaRepository repo;
    private final VmRepository vms;
    private final boolean labMode;

    /**
     * {@code labMode}: the manager runs a local lab ({@code --lab-mode}); only then is the {@code lab} fence kind
     * offered.
     */
    public HaSettings(HaRepository repo, VmRepository vms, boolean labMode) {
        this.repo = repo;
        this.vms = vms;
        this.labMode = labMode;
    }

    // ---- VMs

    public Map<String, Object> vmView(VmRecord vm) {
        VmHa ha = repo.vm(vm.id()).orElse(VmHa.off());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vm", vm.name());
        m.putAll(describe(ha));
        m.put("healthCheck", ha.healthCheck()); // null here; the audit trail says "none"
        return m;
    }

    public Map<String, Object> putVm(VmRecord vm, VmRequest r, Actor actor, AuditLog audit) {
        if (r == null) {
            throw ApiException.invalid("body", "send the HA settings to change, e.g. {\"enabled\": true}");
        }
        VmHa old = repo.vm(vm.id()).orElse(VmHa.off());
        List<ApiException.FieldError> errors = new ArrayList<>();
        int priority = r.priority() == null ? old.priority() : r.priority();
        if (priority < 0 || priority > 100) {
            errors.add(new ApiException.FieldError("priority", "must be 0..100 (higher restarts first), not " + priority));
        }
        List<String> deps = old.dependsOn();
        if (r.dependsOn() != null) {
            deps = new ArrayList<>();
            for (String ref : r.dependsOn()) {
                VmRecord d = ref == null ? null : vms.find(ref).or(() -> vms.findByName(ref)).orElse(null);
                if (d == null) {
                    errors.add(new ApiException.FieldError("dependsOn", "no VM '" + ref + "'"));
                } else if (d.id().equals(vm.id())) {
                    errors.add(new ApiException.FieldError("dependsOn", "VM '" + vm.name() + "' cannot depend on itself"));
                } else if (!deps.contains(d.id())) {
                    deps.add(d.id());
                }
            }
        }
        String check = r.healthCheck() == null ? old.healthCheck() : r.healthCheck().isBlank() ? null
                : r.healthCheck().strip();
        String checkProblem = HealthChecks.problem(check);
        if (checkProblem != null) {
            errors.add(new ApiException.FieldError("healthCheck", checkProblem));
        }
        int interval = r.healthIntervalSeconds() == null ? old.healthIntervalSeconds() : r.healthIntervalSeconds();
        if (interval < 1 || interval > 3600) {
            errors.add(new ApiException.FieldError("healthIntervalSeconds", "must be 1..3600, not " + interval));
        }
        int failures = r.healthFailures() == null ? old.healthFailures() : r.healthFailures();
        if (failures < 1 || failures > 100) {
            errors.add(new ApiException.FieldError("healthFailures", "must be 1..100, not " + failures));
        }
        int max = r.maxRestartsPerHour() == null ? old.maxRestartsPerHour() : r.maxRestartsPerHour();
        if (max < 0 || max > 100) {
            errors.add(new ApiException.FieldError("maxRestartsPerHour", "must be 0..100, not " + max));
        }
        if (errors.isEmpty()) {
            String cycle = cycle(vm.id(), deps);
            if (cycle != null) {
                errors.add(new ApiException.FieldError("dependsOn", "the restart order would be circular: " + cycle));
            }
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        VmHa next = new VmHa(r.enabled() == null ? old.enabled() : r.enabled(), priority, deps, check, interval,
                failures, max);
        repo.jdbi().useTransaction(h -> {
            repo.putVm(h, vm.id(), next);
            audit.record(h, new AuditLog.Entry(actor, "vm.ha-settings", "vm", vm.id(), vm.name(), describe(old),
                    describe(next), null, Outcome.SUCCESS, null));
        });
        return vmView(vm);
    }

    private Map<String, Object> describe(VmHa ha) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("enabled", ha.enabled());
        m.put("priority", ha.priority());
        m.put("dependsOn", ha.dependsOn().stream().map(id -> vms.find(id).map(VmRecord::name).orElse(id)).toList());
        m.put("healthCheck", ha.healthCheck() == null ? "none" : ha.healthCheck());
        m.put("healthIntervalSeconds", ha.healthIntervalSeconds());
        m.put("healthFailures", ha.healthFailures());
        m.put("maxRestartsPerHour", ha.maxRestartsPerHour());
        return m;
    }

    /** The dependency cycle {@code vmId -> deps} would close, named by VM names, or null. */
    private String cycle(String vmId, List<String> deps) {
        Map<String, List<String>> graph = new HashMap<>();
        repo.vms().forEach((id, ha) -> graph.put(id, ha.dependsOn()));
        graph.put(vmId, deps);
        List<String> path = new ArrayList<>();
        return visit(vmId, vmId, graph, path, new HashSet<>()) ? String.join(" -> ", path.stream()
                .map(id -> vms.find(id).map(VmRecord::name).orElse(id)).toList()) : null;
    }

    private static boolean visit(String start, String at, Map<String, List<String>> graph, List<String> path,
                                 Set<String> seen) {
        path.add(at);
        for (String next : graph.getOrDefault(at, List.of())) {
            if (next.equals(start)) {
                path.add(next);
                return true;
            }
            if (seen.add(next) && visit(start, next, graph, path, seen)) {
                return true;
            }
        }
        path.remove(path.size() - 1);
        return false;
    }

    // ---- clusters

    public Map<String, Object> clusterView(ClusterRecord c) {
        ClusterHa ha = repo.cluster(c.id());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cluster", c.name());
        m.put("admissionControl", ha.admissionControl());
        m.put("isolationResponse", ha.isolationResponse());
        return m;
    }

    public Map<String, Object> putCluster(ClusterRecord c, ClusterRequest r, Actor actor, AuditLog audit) {
        if (r == null) {
            throw ApiException.invalid("body", "send the HA settings to change, e.g. {\"admissionControl\": true}");
        }
        ClusterHa old = repo.cluster(c.id());
        String isolation = r.isolationResponse() == null ? old.isolationResponse() : r.isolationResponse();
        if (!ReportAck.POWER_OFF.equals(isolation) && !ReportAck.LEAVE_RUNNING.equals(isolation)) {
            throw ApiException.invalid("isolationResponse", "must be power-off or leave-running, not '" + isolation + "'");
        }
        ClusterHa next = new ClusterHa(r.admissionControl() == null ? old.admissionControl() : r.admissionControl(),
                isolation);
        repo.jdbi().useTransaction(h -> {
            repo.putCluster(h, c.id(), next);
            audit.record(h, new AuditLog.Entry(actor, "cluster.ha-settings", "cluster", c.id(), c.name(),
                    Map.of("admissionControl", old.admissionControl(), "isolationResponse", old.isolationResponse()),
                    Map.of("admissionControl", next.admissionControl(), "isolationResponse", next.isolationResponse()),
                    null, Outcome.SUCCESS, null));
        });
        return clusterView(c);
    }

    // ---- hosts

    public Map<String, Object> fenceView(HostRecord host) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("host", host.name());
        try {
            repo.fence(host.id()).ifPresentOrElse(f -> m.putAll(f.view()), () -> m.put("kind", "none"));
        } catch (org.carevisor.manager.secrets.SecretsException e) {
            FenceConfig stored = repo.fences().get(host.id());
            m.put("kind", stored == null ? "none" : stored.kind());
            m.put("secretSet", false);
            m.put("secretError", e.getMessage());
        }
        return m;
    }

    /**
     * Sets or removes a host's fence agent. Every field is checked now, with a 400 naming it (a bad BMC address
     * used to fail only when the host had to be fenced): IPMI address an IP address or DNS name; Redfish URL
     * https only, a valid host, no user info, a port in range, no path; system id and namespace names; user and
     * password printable and bounded. The {@code lab} kind only when the manager runs in lab mode.
     */
    public Map<String, Object> putFence(HostRecord host, FenceRequest r, Actor actor, AuditLog audit) {
        if (r == null || r.kind() == null) {
            throw ApiException.invalid("kind", "name the fence agent: " + FenceTargets.kinds(labMode));
        }
        FenceConfig next = switch (r.kind()) {
            case "none" -> null;
            case "ipmi" -> {
                require(r.address(), "address", "the BMC's host name or IP address");
                require(r.username(), "username", "the BMC user");
                require(r.password(), "password", "the BMC password");
                String address = check("address", () -> FenceTargets.ipmiAddress(r.address()).value());
                check("username", () -> FenceTargets.username(r.username(), false));
                check("password", () -> FenceTargets.password(r.password()));
                yield new FenceConfig("ipmi", address, r.username(), r.password(), null, null);
            }
            case "redfish" -> {
                require(r.address(), "address", "the BMC's https URL, e.g. https://10.0.9.21");
                require(r.username(), "username", "the BMC user");
                require(r.password(), "password", "the BMC password");
                String url = check("address", () -> FenceTargets.redfishUrl(r.address()).toString());
                String system = check("target", () -> FenceTargets.redfishSystem(r.target() == null ? "1"
                        : r.target()));
                check("username", () -> FenceTargets.username(r.username(), true));
                check("password", () -> FenceTargets.password(r.password()));
                if (r.caPem() != null) {
                    if (r.caPem().length() > FenceTargets.MAX_CA_PEM) {
                        throw ApiException.invalid("caPem", "at most " + FenceTargets.MAX_CA_PEM + " characters");
                    }
                    try {
                        org.carevisor.pki.Pem.certificate(r.caPem());
                    } catch (RuntimeException e) {
                        throw ApiException.invalid("caPem", "not a PEM certificate: " + e.getMessage());
                    }
                }
                yield new FenceConfig("redfish", url, r.username(), r.password(), system, r.caPem());
            }
            case "lab" -> {
                if (!labMode) {
                    throw ApiException.invalid("kind", "the lab fence agent (it kills the processes of a network"
                            + " namespace) exists only in a local lab (./carevisor lab, manager option --lab-mode"
                            + " true); use " + FenceTargets.kinds(false));
                }
                require(r.target(), "target", "the lab host's network namespace");
                yield new FenceConfig("lab", null, null, null, check("target", () -> FenceTargets.namespace(
                        r.target())), null);
            }
            default -> throw ApiException.invalid("kind", "unknown fence agent '"
                    + org.carevisor.manager.security.Clip.text(r.kind(), 40) + "'; use " + FenceTargets.kinds(labMode));
        };
        Map<String, Object> old = fenceView(host);
        repo.jdbi().useTransaction(h -> {
            repo.putFence(h, host.id(), next);
            Map<String, Object> after = new LinkedHashMap<>();
            after.put("host", host.name());
            if (next == null) {
                after.put("kind", "none");
            } else {
                after.putAll(next.view());
            }
            audit.record(h, new AuditLog.Entry(actor, "host.fence-settings", "host", host.id(), host.name(), old,
                    after, null, Outcome.SUCCESS, null));
        });
        return fenceView(host);
    }

    private static <T> T check(String field, java.util.function.Supplier<T> check) {
        try {
            return check.get();
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(field, e.getMessage());
        }
    }

    private static void check(String field, Runnable check) {
        check(field, () -> {
            check.run();
            return null;
        });
    }

    private static void require(String value, String field, String what) {
        if (value == null || value.isBlank()) {
            throw ApiException.invalid(field, "required: " + what);
        }
    }
}
