package org.carevisor.manager.placement;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.api.ApiException.FieldError;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.db.Sql;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.vm.VmNames;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.jdbi.v3.core.Jdbi;

/** Placement rules: create (refused when they contradict other rules), list, delete. Audited. */
public final class RuleService {
    static final Pattern TAG = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

    /** Request body of a new rule. */
    public record Create(String name, String type, String enforcement, List<String> vms, String hostTag,
                         String hostRelation, String description) {
    }

    /** A rule as the API shows it, with the VMs' names, where it is broken now, and warnings. */
    public record View(String id, String name, String type, String enforcement, List<Map<String, String>> vms,
                       String hostTag, String hostRelation, String description, String summary,
                       List<String> violations, List<String> warnings) {
    }

    private final Jdbi jdbi;
    private final VmRepository vms;
    private final HostRepository hosts;
    private final AuditLog audit;

    public RuleService(Jdbi jdbi, VmRepository vms, HostRepository hosts, AuditLog audit) {
        this.jdbi = jdbi;
        this.vms = vms;
        this.hosts = hosts;
        this.audit = audit;
    }

    public List<Rule> rules() {
        return jdbi.withHandle(h -> {
            Map<String, Set<String>> members = new HashMap<>();
            h.createQuery("SELECT rule_id, vm_id FROM placement_rule_vms").map((rs, c) -> members.computeIfAbsent(
                    rs.getString("rule_id"), k -> new LinkedHashSet<>()).add(rs.getString("vm_id"))).list();
            return h.createQuery("SELECT * FROM placement_rules ORDER BY name").map((rs, c) -> new Rule(
                    rs.getString("id"), rs.getString("name"), Rule.Kind.parse(rs.getString("kind")),
                    "must".equals(rs.getString("enforcement")), members.getOrDefault(rs.getString("id"), Set.of()),
                    rs.getString("host_tag"), "avoid".equals(rs.getString("host_relation")),
                    rs.getString("description"))).list();
        });
    }

    public Rule get(String ref) {
        return rules().stream().filter(r -> r.id().equals(ref) || r.name().equals(ref)).findFirst()
                .orElseThrow(() -> ApiException.notFound("placement rule", ref));
    }

    /** Checks and stores a rule; 409 {@code rule-conflict} naming the rules that cannot all hold. */
    public View create(Create c, Actor actor) {
        List<FieldError> errors = new ArrayList<>();
        String problem = VmNames.problem(c.name());
        if (problem != null) {
            errors.add(new FieldError("name", problem));
        }
        Rule.Kind kind = Rule.Kind.parse(c.type());
        if (kind == null) {
            errors.add(new FieldError("type", "must be one of " + String.join(", ", Rule.KINDS)));
        }
        if (!"must".equals(c.enforcement()) && !"should".equals(c.enforcement())) {
            errors.add(new FieldError("enforcement", "must be 'must' (never broken) or 'should' (followed when possible)"));
        }
        if (c.description() != null && c.description().length() > 1000) {
            errors.add(new FieldError("description", "must be at most 1000 characters"));
        }
        Map<String, VmRecord> byRef = new LinkedHashMap<>();
        List<String> refs = c.vms() == null ? List.of() : c.vms();
        for (int i = 0; i < refs.size(); i++) {
            String ref = refs.get(i);
            VmRecord vm = ref == null ? null : vms.find(ref).or(() -> vms.findByName(ref)).orElse(null);
            if (vm == null) {
                errors.add(new FieldError("vms[" + i + "]", "no VM '" + ref + "'"));
            } else if (byRef.containsKey(vm.id())) {
                errors.add(new FieldError("vms[" + i + "]", "VM '" + vm.name() + "' is listed twice"));
            } else {
                byRef.put(vm.id(), vm);
            }
        }
        int needed = kind == Rule.Kind.VM_HOST ? 1 : 2;
        if (refs.size() < needed) {
            errors.add(new FieldError("vms", kind == Rule.Kind.VM_HOST ? "must name at least one VM"
                    : "must name at least two VMs"));
        }
        boolean avoid = false;
        if (kind == Rule.Kind.VM_HOST) {
            if (c.hostTag() == null || !TAG.matcher(c.hostTag()).matches()) {
                errors.add(new FieldError("hostTag", "must be a host tag (lower-case letters, digits, '.', '_', '-')"));
            }
            if (!"run-on".equals(c.hostRelation()) && !"avoid".equals(c.hostRelation())) {
                errors.add(new FieldError("hostRelation", "must be 'run-on' or 'avoid'"));
            }
            avoid = "avoid".equals(c.hostRelation());
        } else if (kind != null && (c.hostTag() != null || c.hostRelation() != null)) {
            errors.add(new FieldError("hostTag", "only rules of type vm-host name a host tag"));
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        if (rules().stream().anyMatch(r -> r.name().equals(c.name()))) {
            throw ApiException.conflict("name-taken", "name", "a placement rule named '" + c.name() + "' already exists");
        }
        Rule rule = new Rule(UUID.randomUUID().toString(), c.name(), kind, "must".equals(c.enforcement()),
                byRef.keySet(), kind == Rule.Kind.VM_HOST ? c.hostTag() : null, avoid, c.description());
        RuleConflicts.Result check = check(rule);
        if (!check.conflicts().isEmpty()) {
            audit.record(new AuditLog.Entry(actor, "placement-rule.create", "placement-rule", rule.id(), rule.name(),
                    null, describe(rule), String.join("; ", check.conflicts()), AuditLog.Outcome.REFUSED, null));
            throw ApiException.conflict("rule-conflict", "the rule cannot hold together with the existing rules: "
                    + String.join("; ", check.conflicts()));
        }
        jdbi.useTransaction(h -> {
            h.createUpdate("""
                    INSERT INTO placement_rules (id, name, kind, enforcement, host_tag, host_relation, description,
                                                 created_at, created_by)
                    VALUES (:id, :name, :kind, :enf, :tag, :rel, :d, :at, :by)""")
                    .bind("id", rule.id()).bind("name", rule.name()).bind("kind", rule.kind().json())
                    .bind("enf", rule.must() ? "must" : "should").bind("tag", rule.hostTag())
                    .bind("rel", rule.kind() == Rule.Kind.VM_HOST ? c.hostRelation() : null)
                    .bind("d", rule.description()).bind("at", Sql.ts(Instant.now())).bind("by", actor.name()).execute();
            for (String vm : rule.vmIds()) {
                h.createUpdate("INSERT INTO placement_rule_vms (rule_id, vm_id) VALUES (:r, :v)").bind("r", rule.id())
                        .bind("v", vm).execute();
            }
            audit.record(h, new AuditLog.Entry(actor, "placement-rule.create", "placement-rule", rule.id(), rule.name(),
                    null, describe(rule), check.warnings().isEmpty() ? null : String.join("; ", check.warnings()),
                    AuditLog.Outcome.SUCCESS, null));
        });
        return view(rule, Map.of(), check.warnings());
    }

    public void delete(String ref, Actor actor) {
        Rule rule = get(ref);
        jdbi.useTransaction(h -> {
            h.createUpdate("DELETE FROM placement_rule_vms WHERE rule_id = :id").bind("id", rule.id()).execute();
            h.createUpdate("DELETE FROM placement_rules WHERE id = :id").bind("id", rule.id()).execute();
            audit.record(h, new AuditLog.Entry(actor, "placement-rule.delete", "placement-rule", rule.id(), rule.name(),
                    describe(rule), null, null, AuditLog.Outcome.SUCCESS, null));
        });
    }

    private RuleConflicts.Result check(Rule candidate) {
        Map<String, String> clusterOf = new HashMap<>();
        Map<String, String> names = new HashMap<>();
        for (VmRecord vm : vms.list()) {
            clusterOf.put(vm.id(), vm.clusterId());
            names.put(vm.id(), vm.name());
        }
        List<RuleConflicts.HostTags> tags = hosts.list().stream()
                .map(h -> new RuleConflicts.HostTags(h.name(), h.clusterId(), Set.copyOf(h.tags()))).toList();
        return RuleConflicts.check(rules(), candidate, clusterOf, names, tags);
    }

    /**
     * The rule as shown, with where it is broken now ({@code hostOfVm}: where each running VM is; VMs not in it
     * are not running).
     */
    public View view(Rule r, Map<String, String> hostOfVm, List<String> warnings) {
        Map<String, String> names = new HashMap<>();
        vms.list().forEach(v -> names.put(v.id(), v.name()));
        Map<String, String> hostNames = new HashMap<>();
        Map<String, Set<String>> hostTags = new HashMap<>();
        hosts.list().forEach(h -> {
            hostNames.put(h.id(), h.name());
            hostTags.put(h.id(), Set.copyOf(h.tags()));
        });
        List<String> violations = new ArrayList<>();
        switch (r.kind()) {
            case VM_ANTI_AFFINITY -> {
                Map<String, List<String>> perHost = new LinkedHashMap<>();
                r.vmIds().stream().filter(hostOfVm::containsKey).sorted().forEach(v -> perHost.computeIfAbsent(
                        hostOfVm.get(v), k -> new ArrayList<>()).add(names.getOrDefault(v, v)));
                perHost.forEach((host, list) -> {
                    if (list.size() > 1) {
                        violations.add("VMs " + String.join(", ", list) + " run together on host "
                                + hostNames.getOrDefault(host, host));
                    }
                });
            }
            case VM_AFFINITY -> {
                Set<String> used = new LinkedHashSet<>();
                r.vmIds().stream().filter(hostOfVm::containsKey).forEach(v -> used.add(hostOfVm.get(v)));
                if (used.size() > 1) {
                    violations.add("the VMs run on " + used.size() + " hosts: " + String.join(", ",
                            used.stream().map(h -> hostNames.getOrDefault(h, h)).sorted().toList()));
                }
            }
            case VM_HOST -> r.vmIds().stream().filter(hostOfVm::containsKey).sorted().forEach(v -> {
                boolean tagged = hostTags.getOrDefault(hostOfVm.get(v), Set.of()).contains(r.hostTag());
                if (tagged == r.avoid()) {
                    violations.add("VM " + names.getOrDefault(v, v) + " runs on host "
                            + hostNames.getOrDefault(hostOfVm.get(v), hostOfVm.get(v)));
                }
            });
            default -> throw new IllegalStateException();
        }
        List<Map<String, String>> members = r.vmIds().stream().sorted(java.util.Comparator.comparing(
                v -> names.getOrDefault(v, v))).map(v -> Map.of("id", v, "name", names.getOrDefault(v, v))).toList();
        return new View(r.id(), r.name(), r.kind().json(), r.must() ? "must" : "should", members, r.hostTag(),
                r.kind() == Rule.Kind.VM_HOST ? (r.avoid() ? "avoid" : "run-on") : null, r.description(),
                r.label(), violations, warnings);
    }

    private static Map<String, Object> describe(Rule r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", r.kind().json());
        m.put("enforcement", r.must() ? "must" : "should");
        m.put("vms", List.copyOf(r.vmIds()));
        if (r.hostTag() != null) {
            m.put("hostTag", r.hostTag());
            m.put("hostRelation", r.avoid() ? "avoid" : "run-on");
        }
        return m;
    }
}
