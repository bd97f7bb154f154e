package org.carevisor.manager.host;

import java.util.List;
import java.util.Map;
import org.carevisor.manager.audit.Values;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.security.ManagerPki;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.jdbi.v3.core.Jdbi;

/** Host administration: removing a host (only when it has no VMs) and revoking its certificate. */
public final class HostService {
    private final Jdbi jdbi;
    private final HostRepository hosts;
    private final HostBoard board;
    private final VmRepository vms;
    private final ManagerPki pki;
    private final AuditLog audit;
    private final AgentClient agents;
    private final org.carevisor.manager.cluster.ClusterRepository clusters;
    private static final java.util.regex.Pattern TAG = java.util.regex.Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

    /** Changes of a host's settings; fields left out stay. */
    public record HostPatch(String cluster, List<String> tags, Integer reservedMemoryMiB, String description) {
    }

    public HostService(Jdbi jdbi, HostRepository hosts, HostBoard board, VmRepository vms, ManagerPki pki,
                       AuditLog audit, AgentClient agents, org.carevisor.manager.cluster.ClusterRepository clusters) {
        this.jdbi = jdbi;
        this.hosts = hosts;
        this.board = board;
        this.vms = vms;
        this.pki = pki;
        this.audit = audit;
        this.agents = agents;
        this.clusters = clusters;
    }

    /**
     * Changes cluster, tags, reserved memory or description. A host changes cluster only when no VM is
     * assigned to it, when it offers the cluster's CPU model and sees the cluster's storage domain.
     */
    public HostRecord update(String ref, HostPatch p, Actor actor) {
        HostRecord host = get(ref);
        List<org.carevisor.manager.api.ApiException.FieldError> errors = new java.util.ArrayList<>();
        List<String> tags = p.tags() == null ? host.tags() : p.tags();
        if (tags.size() > 32) {
            errors.add(new org.carevisor.manager.api.ApiException.FieldError("tags", "at most 32 tags"));
        }
        for (int i = 0; i < tags.size(); i++) {
            String t = tags.get(i);
            if (t == null || !TAG.matcher(t).matches()) {
                errors.add(new org.carevisor.manager.api.ApiException.FieldError("tags[" + i + "]",
                        "must be 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"));
            } else if (tags.indexOf(t) != i) {
                errors.add(new org.carevisor.manager.api.ApiException.FieldError("tags[" + i + "]", "'" + t
                        + "' is listed twice"));
            }
        }
        int reserved = p.reservedMemoryMiB() == null ? host.reservedMemoryMiB() : p.reservedMemoryMiB();
        long memory = board.get(host.id()).map(e -> e.inventory().memoryMiB()).orElse(host.inventory().memoryMiB());
        if (reserved < 0 || (memory > 0 && reserved >= memory)) {
            errors.add(new org.carevisor.manager.api.ApiException.FieldError("reservedMemoryMiB",
                    "must be between 0 and the host's memory (" + memory + " MiB)"));
        }
        String description = p.description() == null ? host.description() : p.description();
        if (description != null && description.length() > 1000) {
            errors.add(new org.carevisor.manager.api.ApiException.FieldError("description",
                    "must be at most 1000 characters"));
        }
        org.carevisor.manager.cluster.ClusterRecord target = null;
        if (p.cluster() != null) {
            target = clusters.find(p.cluster()).or(() -> clusters.findByName(p.cluster())).orElse(null);
            if (target == null) {
                errors.add(new org.carevisor.manager.api.ApiException.FieldError("cluster", "no cluster '"
                        + p.cluster() + "'"));
            }
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        String clusterId = target == null ? host.clusterId() : target.id();
        if (!clusterId.equals(host.clusterId())) {
            List<String> vmNames = vms.onHost(host.id()).stream().map(VmRecord::name).toList();
            if (!vmNames.isEmpty()) {
                throw ApiException.conflict("host-not-empty", "host " + host.name() + " still has VMs ("
                        + String.join(", ", vmNames) + "); a host changes cluster only when empty");
            }
            org.carevisor.protocol.HostInventory inv = board.get(host.id()).map(HostBoard.Entry::inventory)
                    .orElse(host.inventory());
            if (!inv.cpuModels().isEmpty() && !inv.cpuModels().contains(target.cpuModel())) {
                throw ApiException.conflict("cpu-model-unsupported", "host " + host.name() + " cannot run CPU model "
                        + target.cpuModel() + ", the baseline of cluster '" + target.name() + "'");
            }
            if (target.storageDomainId() != null && inv.storageDomainId() != null
                    && !target.storageDomainId().equals(inv.storageDomainId())) {
                throw ApiException.conflict("storage-domain-mismatch", "host " + host.name() + " has storage domain "
                        + inv.storageDomainId() + " mounted, cluster '" + target.name() + "' uses "
                        + target.storageDomainId() + "; mount the cluster's storage on the host first");
            }
            if (target.storageDomainId() == null && inv.storageDomainId() != null) {
                clusters.adoptStorageDomain(target.id(), inv.storageDomainId());
            }
        }
        Map<String, Object> before = Values.of("cluster", host.clusterId(), "tags", host.tags(),
                "reservedMemoryMiB", host.reservedMemoryMiB(), "description", host.description());
        Map<String, Object> after = Values.of("cluster", clusterId, "tags", tags, "reservedMemoryMiB", reserved,
                "description", description);
        jdbi.useTransaction(h -> {
            hosts.updateSettings(h, host.id(), clusterId, tags, reserved, description);
            audit.record(h, new AuditLog.Entry(actor, "host.update", "host", host.id(), host.name(), before, after,
                    null, AuditLog.Outcome.SUCCESS, null));
        });
        return get(host.id());
    }

    /** A host by id or name. */
    /** Every host. */
    public List<HostRecord> list() {
        return hosts.list();
    }

    public HostRecord get(String ref) {
        return hosts.find(ref).or(() -> hosts.list().stream().filter(h -> h.name().equals(ref)).findFirst())
                .orElseThrow(() -> ApiException.notFound("host", ref));
    }

    /**
     * Shuts down every VM of a host (ACPI, power-off after the timeout) because the host goes down; the host
     * reports "shutting down" meanwhile, so nothing is started there, and the VMs' desired state stays, so
     * they start again when the host is back. Returns the VMs' states afterwards.
     */
    public List<org.carevisor.protocol.VmStatus> stopAllVms(String ref, int timeoutSeconds, Actor actor) {
        if (timeoutSeconds < 0 || timeoutSeconds > 3600) {
            throw ApiException.invalid("timeoutSeconds", "must be between 0 and 3600");
        }
        HostRecord host = get(ref);
        if (!board.connected(host.id())) {
            throw ApiException.unavailable("host-unavailable", "host " + host.name() + " is not reporting");
        }
        audit.record(new AuditLog.Entry(actor, "host.stop-all-vms", "host", host.id(), host.name(), null,
                Map.of("timeoutSeconds", timeoutSeconds), "host shutdown", AuditLog.Outcome.SUCCESS, null));
        return agents.stopAll(board.get(host.id()).orElseThrow().inventory().endpoint(), timeoutSeconds);
    }

    /** Removes an empty host and revokes its certificate, so its agent cannot report or be called again. */
    public void remove(String ref, String reason, Actor actor) {
        HostRecord host = get(ref);
        List<String> vmNames = vms.onHost(host.id()).stream().map(VmRecord::name).toList();
        if (!vmNames.isEmpty()) {
            throw ApiException.conflict("host-not-empty", "host " + host.name() + " still has VMs: "
                    + String.join(", ", vmNames) + "; move or delete them first");
        }
        String serial = jdbi.withHandle(h -> h.createQuery("SELECT cert_serial FROM hosts WHERE id = :id")
                .bind("id", host.id()).mapTo(String.class).findOne().orElse(null));
        jdbi.useTransaction(h -> {
            if (serial != null) {
                pki.revoke(h, serial, host.id(), host.name(), actor.name(), reason == null ? "host removed" : reason);
            }
            h.createUpdate("DELETE FROM hosts WHERE id = :id").bind("id", host.id()).execute();
            audit.record(h, new AuditLog.Entry(actor, "host.remove", "host", host.id(), host.name(),
                    Values.of("endpoint", host.endpoint(), "certificateSerial", serial), null, reason,
                    AuditLog.Outcome.SUCCESS, null));
        });
        board.remove(host.id());
    }
}
