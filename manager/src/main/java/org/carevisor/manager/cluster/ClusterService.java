package org.carevisor.manager.cluster;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.api.ApiException.FieldError;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.vm.VmNames;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;

/** Clusters: create, change (every field validated), delete when empty. Every change is audited. */
public final class ClusterService {
    /** Criticality classes, most critical first (HA restarts follow this order). */
    public static final List<String> CRITICALITY = List.of("critical", "high", "standard", "low");
    public static final Set<String> BALANCER_MODES = Set.of("off", "recommend", "automatic");
    private static final Pattern CPU_MODEL = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

    private final ClusterRepository repo;
    private final HostRepository hosts;
    private final VmRepository vms;
    private final AuditLog audit;

    public ClusterService(ClusterRepository repo, HostRepository hosts, VmRepository vms, AuditLog audit) {
        this.repo = repo;
        this.hosts = hosts;
        this.vms = vms;
        this.audit = audit;
    }

    public List<ClusterRecord> list() {
        return repo.list();
    }

    /** A cluster by id or name. */
    public ClusterRecord get(String ref) {
        return repo.find(ref).or(() -> repo.findByName(ref)).orElseThrow(() -> ApiException.notFound("cluster", ref));
    }

    public ClusterRecord create(ClusterRequests.Write w, Actor actor) {
        if (w.name() == null) {
            throw ApiException.invalid("name", "is required");
        }
        Instant now = Instant.now();
        ClusterRecord defaults = new ClusterRecord(UUID.randomUUID().toString(), w.name(), null, "qemu64", "standard",
                null, 4.0, 1.0, new ClusterRecord.Migration(1024, 300, true, 2, 600),
                new ClusterRecord.Balancer("off", 20, 60, 30), now, now);
        ClusterRecord c = apply(defaults, w, List.of());
        if (repo.findByName(c.name()).isPresent()) {
            throw ApiException.conflict("name-taken", "name", "a cluster named '" + c.name() + "' already exists");
        }
        repo.jdbi().useTransaction(h -> {
            repo.insert(h, c);
            audit.record(h, new AuditLog.Entry(actor, "cluster.create", "cluster", c.id(), c.name(), null, view(c),
                    null, AuditLog.Outcome.SUCCESS, null));
        });
        return c;
    }

    public ClusterRecord update(String ref, ClusterRequests.Write w, Actor actor) {
        ClusterRecord before = get(ref);
        ClusterRecord after = apply(before, w, hosts.inCluster(before.id()));
        if (!after.name().equals(before.name()) && repo.findByName(after.name()).isPresent()) {
            throw ApiException.conflict("name-taken", "name", "a cluster named '" + after.name() + "' already exists");
        }
        ClusterRecord stamped = new ClusterRecord(after.id(), after.name(), after.description(), after.cpuModel(),
                after.criticality(), after.storageDomainId(), after.cpuOvercommit(), after.memoryOvercommit(),
                after.migration(), after.balancer(), after.createdAt(), Instant.now());
        repo.jdbi().useTransaction(h -> {
            repo.update(h, stamped);
            audit.record(h, new AuditLog.Entry(actor, "cluster.update", "cluster", before.id(), stamped.name(),
                    view(before), view(stamped), null, AuditLog.Outcome.SUCCESS, null));
        });
        return stamped;
    }

    /** Deletes an empty cluster; the default cluster stays (hosts without a cluster join it). */
    public void delete(String ref, Actor actor) {
        ClusterRecord c = get(ref);
        if (c.id().equals(ClusterRecord.DEFAULT_ID)) {
            throw ApiException.conflict("cluster-default", "the default cluster cannot be deleted; hosts enrolled "
                    + "without a cluster join it");
        }
        List<String> hostNames = hosts.inCluster(c.id()).stream().map(HostRecord::name).toList();
        List<String> vmNames = vms.list().stream().filter(v -> c.id().equals(v.clusterId())).map(VmRecord::name)
                .toList();
        if (!hostNames.isEmpty() || !vmNames.isEmpty()) {
            throw ApiException.conflict("cluster-not-empty", "cluster '" + c.name() + "' still has "
                    + (hostNames.isEmpty() ? "" : "hosts " + String.join(", ", hostNames))
                    + (!hostNames.isEmpty() && !vmNames.isEmpty() ? " and " : "")
                    + (vmNames.isEmpty() ? "" : "VMs " + String.join(", ", vmNames)) + "; move them first");
        }
        repo.jdbi().useTransaction(h -> {
            repo.delete(h, c.id());
            audit.record(h, new AuditLog.Entry(actor, "cluster.delete", "cluster", c.id(), c.name(), view(c), null,
                    null, AuditLog.Outcome.SUCCESS, null));
        });
    }

    /** The request applied to {@code base}, with every field checked; all errors are reported at once. */
    static ClusterRecord apply(ClusterRecord base, ClusterRequests.Write w, List<HostRecord> members) {
        List<FieldError> errors = new ArrayList<>();
        String name = w.name() != null ? w.name() : base.name();
        String problem = VmNames.problem(name);
        if (problem != null) {
            errors.add(new FieldError("name", problem));
        }
        String description = w.description() != null ? w.description() : base.description();
        if (description != null && description.length() > 1000) {
            errors.add(new FieldError("description", "must be at most 1000 characters"));
        }
        String cpuModel = w.cpuModel() != null ? w.cpuModel() : base.cpuModel();
        if (!CPU_MODEL.matcher(cpuModel).matches()) {
            errors.add(new FieldError("cpuModel", "must be a QEMU CPU model name such as qemu64 or Haswell-v4"));
        } else if (!cpuModel.equals(base.cpuModel())) {
            for (HostRecord h : members) {
                List<String> models = h.inventory().cpuModels();
                if (!models.isEmpty() && !models.contains(cpuModel)) {
                    errors.add(new FieldError("cpuModel", "host " + h.name() + " cannot run CPU model '" + cpuModel
                            + "'; a cluster's baseline must be a model every host offers"));
                }
            }
        }
        String criticality = w.criticality() != null ? w.criticality() : base.criticality();
        if (!CRITICALITY.contains(criticality)) {
            errors.add(new FieldError("criticality", "must be one of " + String.join(", ", CRITICALITY)));
        }
        double cpuOver = w.cpuOvercommit() != null ? w.cpuOvercommit() : base.cpuOvercommit();
        if (!(cpuOver >= 0.5 && cpuOver <= 16)) {
            errors.add(new FieldError("cpuOvercommit", "must be between 0.5 and 16 (vCPUs per host core)"));
        }
        double memOver = w.memoryOvercommit() != null ? w.memoryOvercommit() : base.memoryOvercommit();
        if (!(memOver >= 0.5 && memOver <= 2)) {
            errors.add(new FieldError("memoryOvercommit", "must be between 0.5 and 2 (guest memory per host memory)"));
        }
        ClusterRecord.Migration m = base.migration();
        ClusterRequests.Migration wm = w.migration();
        if (wm != null) {
            m = new ClusterRecord.Migration(
                    check(errors, "migration.bandwidthMiBps", wm.bandwidthMiBps(), m.bandwidthMiBps(), 1, 100_000),
                    check(errors, "migration.downtimeLimitMs", wm.downtimeLimitMs(), m.downtimeLimitMs(), 10, 10_000),
                    wm.autoConverge() != null ? wm.autoConverge() : m.autoConverge(),
                    check(errors, "migration.maxParallel", wm.maxParallel(), m.maxParallel(), 1, 8),
                    check(errors, "migration.timeoutSeconds", wm.timeoutSeconds(), m.timeoutSeconds(), 30, 86_400));
        }
        ClusterRecord.Balancer b = base.balancer();
        ClusterRequests.Balancer wb = w.balancer();
        if (wb != null) {
            String mode = wb.mode() != null ? wb.mode() : b.mode();
            if (!BALANCER_MODES.contains(mode)) {
                errors.add(new FieldError("balancer.mode", "must be off, recommend or automatic"));
            }
            b = new ClusterRecord.Balancer(mode,
                    check(errors, "balancer.thresholdPercent", wb.thresholdPercent(), b.thresholdPercent(), 5, 90),
                    check(errors, "balancer.intervalSeconds", wb.intervalSeconds(), b.intervalSeconds(), 5, 3600),
                    check(errors, "balancer.cooldownMinutes", wb.cooldownMinutes(), b.cooldownMinutes(), 0, 1440));
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        return new ClusterRecord(base.id(), name, description, cpuModel, criticality, base.storageDomainId(), cpuOver,
                memOver, m, b, base.createdAt(), base.updatedAt());
    }

    private static int check(List<FieldError> errors, String field, Integer value, int fallback, int min, int max) {
        if (value == null) {
            return fallback;
        }
        if (value < min || value > max) {
            errors.add(new FieldError(field, "must be between " + min + " and " + max));
        }
        return value;
    }

    /** The cluster as audited and shown (without host and VM lists). */
    public static Map<String, Object> view(ClusterRecord c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", c.id());
        m.put("name", c.name());
        m.put("description", c.description());
        m.put("cpuModel", c.cpuModel());
        m.put("criticality", c.criticality());
        m.put("storageDomainId", c.storageDomainId());
        m.put("cpuOvercommit", c.cpuOvercommit());
        m.put("memoryOvercommit", c.memoryOvercommit());
        m.put("migration", c.migration());
        m.put("balancer", c.balancer());
        return m;
    }
}
