package org.carevisor.agent.report;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.carevisor.agent.host.HostInventoryCollector;
import org.carevisor.agent.vm.VmRegistry;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.LeaseSeen;

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

    public HostReport build() {
        return new HostReport(inventory.collect(), vms.statuses(), sequence.incrementAndGet(), Instant.now(),
                startedAt, leases.get());
    }
}
