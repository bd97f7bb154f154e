package org.carevisor.agent.report;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.carevisor.agent.host.HostInventoryCollector;
import org.carevisor.agent.vm.VmRegistry;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.LeaseSeen;
import org.carevisor.protocol.VmStatus;

/**
 * Builds the heartbeat report: inventory, every VM's status and the storage leases this host last read.
 * Thread-safe.
 */
public final class ReportBuilder {
    private final HostInventoryCollector inventory;
    private final VmRegistry vms;
    private final Supplier<List<LeaseSeen>> leases;
    private final Instant startedAt = Instant.now();
    private final AtomicLong sequence = new AtomicLong();

    /** {@code leases}: the storage leases of all hosts as last read (HA); must not block. */
    public ReportBuilder(HostInventoryCollector inventory, VmRegistry vms, Supplier<List<LeaseSeen>> leases) {
        this.inventory = inventory;
        this.vms = vms;
        this.leases = leases;
    }

    /** Longest VM state reason sent (QEMU's messages are shorter; the manager refuses longer ones). */
    static final int MAX_REASON = 2000;

    public HostReport build() {
        var host = inventory.collect();
        // stamped before the VMs are looked at: the manager takes a direct answer it received after this instant
        // as newer news than the report, so the stamp must not be later than the VM states it goes with
        Instant taken = Instant.now();
        List<VmStatus> states = vms.statuses().stream().map(ReportBuilder::bounded).toList();
        return new HostReport(host, states, sequence.incrementAndGet(), taken, startedAt, leases.get());
    }

    private static VmStatus bounded(VmStatus s) {
        if (s.reason() == null || s.reason().length() <= MAX_REASON) {
            return s;
        }
        return new VmStatus(s.vmId(), s.state(), s.reason().substring(0, MAX_REASON - 3) + "...", s.cause(), s.pid(),
                s.since(), s.startedAt(), s.exitCode(), s.forwards(), s.specVersion());
    }
}
