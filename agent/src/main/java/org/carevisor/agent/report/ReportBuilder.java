package org.carevisor.agent.report;

import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import org.carevisor.agent.host.HostInventoryCollector;
import org.carevisor.agent.vm.VmRegistry;
import org.carevisor.protocol.HostReport;

/** Builds the heartbeat report: inventory plus every VM's status. Thread-safe. */
public final class ReportBuilder {
    private final HostInventoryCollector inventory;
    private final VmRegistry vms;
    private final Instant startedAt = Instant.now();
    private final AtomicLong sequence = new AtomicLong();

    public ReportBuilder(HostInventoryCollector inventory, VmRegistry vms) {
        this.inventory = inventory;
        this.vms = vms;
    }

    public HostReport build() {
        return new HostReport(inventory.collect(), vms.statuses(), sequence.incrementAndGet(), Instant.now(),
                startedAt);
    }
}
