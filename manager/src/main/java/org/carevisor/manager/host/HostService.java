package org.carevisor.manager.host;

import java.util.List;
import java.util.Map;
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

    public HostService(Jdbi jdbi, HostRepository hosts, HostBoard board, VmRepository vms, ManagerPki pki,
                       AuditLog audit, AgentClient agents) {
        this.jdbi = jdbi;
        this.hosts = hosts;
        this.board = board;
        this.vms = vms;
        this.pki = pki;
        this.audit = audit;
        this.agents = agents;
    }

    /** A host by id or name. */
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
                    Map.of("endpoint", host.endpoint(), "certificateSerial", String.valueOf(serial)), null, reason,
                    AuditLog.Outcome.SUCCESS, null));
        });
        board.remove(host.id());
    }
}
