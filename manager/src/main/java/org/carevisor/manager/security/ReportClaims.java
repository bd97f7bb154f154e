package org.carevisor.manager.security;

import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.migration.MigrationRepository;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.VmStatus;

/**
 * What a host says about VMs that are not assigned to it. Such an entry never becomes the VM's observed state
 * (that comes only from the VM's own host, see {@code ReportIngest}), and the manager's only answer to it is to
 * ask the reporting host to stop its copy (HA's {@code stop-stray}): this is right for a real stray (a VM
 * restarted elsewhere while its old host was cut off, which must not run twice) and harmless for a false claim.
 * A claim of a running VM is legitimate only while a migration moves the VM to or from the host; any other is
 * refused: audited as {@code host.report-claim} (once per host and VM every ten minutes). The rest of the
 * report is taken in: refusing it would make the host look dead to HA, and a real stray would never be stopped.
 * Thread-safe.
 */
public final class ReportClaims {
    private final VmRepository vms;
    private final MigrationRepository migrations;
    private final RefusalLog refusals;

    public ReportClaims(VmRepository vms, MigrationRepository migrations, AuditLog audit) {
        this.vms = vms;
        this.migrations = migrations;
        this.refusals = new RefusalLog(audit, Duration.ofMinutes(10));
    }

    /** Audits every claim in {@code report} of a VM with a process that is not the host's to report. */
    public void check(HostReport report, RegisteredHost host) {
        Set<String> assigned = new HashSet<>();
        vms.onHost(host.id()).forEach(v -> assigned.add(v.id()));
        Set<String> moving = null;
        for (VmStatus s : report.vms()) {
            if (assigned.contains(s.vmId()) || !s.state().hasProcess()) {
                continue;
            }
            VmRecord vm = vms.find(s.vmId()).orElse(null);
            if (vm == null) {
                continue; // not a VM of this manager: left alone (ReportIngest logs it)
            }
            if (moving == null) {
                moving = new HashSet<>();
                for (var m : migrations.open()) {
                    if (host.id().equals(m.sourceHostId()) || host.id().equals(m.destHostId())) {
                        moving.add(m.vmId());
                    }
                }
            }
            if (moving.contains(s.vmId())) {
                continue;
            }
            String owner = vm.hostId() == null ? "no host" : "host " + vm.hostId();
            refusals.refused("claim|" + host.id(), vm.id(), new AuditLog.Entry(Actor.agent(host.name()),
                    "host.report-claim", "vm", vm.id(), vm.name(), null, Map.of("reportedBy", host.name(),
                    "reportedState", s.state().json()), "host " + host.name() + " reports VM " + vm.name() + " as "
                    + s.state().json() + ", but the VM is assigned to " + owner + " and no migration moves it to or"
                    + " from " + host.name() + ": not taken as the VM's state; the host is asked to stop its copy"
                    + " if it runs one", AuditLog.Outcome.REFUSED, null));
        }
    }
}
