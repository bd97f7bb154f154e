package org.carevisor.manager.host;

import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.manager.vm.Lifecycle;
import org.carevisor.manager.vm.ObservedStore;
import org.carevisor.manager.vm.PowerState;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.Protocol;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes in agent heartbeats: updates the host board and database, stores observed VM states and acts on
 * transitions that change desired state or must be audited (a guest that powered itself off, a crash,
 * an agent restart). Thread-safe.
 */
public final class ReportIngest {
    private static final Logger LOG = LoggerFactory.getLogger(ReportIngest.class);
    private static final Duration PERSIST_LAST_SEEN = Duration.ofSeconds(30);

    private final HostBoard board;
    private final HostRepository hosts;
    private final VmRepository vms;
    private final ObservedStore observed;
    private final AuditLog audit;
    private final Runnable onNewHost;
    private final Runnable onChange;
    private final Map<String, Instant> lastPersisted = new ConcurrentHashMap<>();
    private final Set<String> warnedOrphans = ConcurrentHashMap.newKeySet();
    private final Map<String, Object> hostLocks = new ConcurrentHashMap<>();
    private volatile java.util.function.BiConsumer<String, String> storageDomainSeen = (cluster, domain) -> { };

    public ReportIngest(HostBoard board, HostRepository hosts, VmRepository vms, ObservedStore observed,
                        AuditLog audit, Runnable onNewHost, Runnable onChange) {
        this.board = board;
        this.hosts = hosts;
        this.vms = vms;
        this.observed = observed;
        this.audit = audit;
        this.onNewHost = onNewHost;
        this.onChange = onChange;
    }

    private volatile java.util.function.Function<HostReport, org.carevisor.protocol.ReportAck> afterReport =
            r -> new org.carevisor.protocol.ReportAck(List.of(), null);

    /** Called with every accepted report; its answer goes back to the agent (high availability). */
    public void onReport(java.util.function.Function<HostReport, org.carevisor.protocol.ReportAck> callback) {
        this.afterReport = callback;
    }

    /** Called with (cluster id, storage domain id) when a host reports its storage domain. */
    public void onStorageDomain(java.util.function.BiConsumer<String, String> callback) {
        this.storageDomainSeen = callback;
    }

    /** Takes in a report; returns the manager's answer to the agent. */
    public org.carevisor.protocol.ReportAck accept(HostReport report) {
        if (report.inventory() == null || report.inventory().hostId() == null) {
            throw ApiException.invalid("inventory.hostId", "a report must name its host");
        }
        if (report.inventory().protocolVersion() != Protocol.VERSION) {
            throw new ApiException(400, "protocol-version-mismatch", "Unsupported agent protocol",
                    "the agent speaks protocol " + report.inventory().protocolVersion() + ", the manager speaks "
                            + Protocol.VERSION + "; upgrade the agent or the manager", null);
        }
        // one report of a host at a time, so that a delayed one cannot overtake the newer one it lost against
        synchronized (hostLocks.computeIfAbsent(report.inventory().hostId(), k -> new Object())) {
            return acceptInOrder(report);
        }
    }

    private org.carevisor.protocol.ReportAck acceptInOrder(HostReport report) {
        String hostId = report.inventory().hostId();
        Optional<HostBoard.Entry> previous = board.get(hostId);
        if (previous.isPresent() && delayed(previous.get().report(), report)) {
            HostReport last = previous.get().report();
            LOG.info("host {}: dropped a delayed report (sequence {}, sent at {}); sequence {} of {} arrived before",
                    report.inventory().hostname(), report.sequence(), report.sentAt(), last.sequence(), last.sentAt());
            throw ApiException.conflict("report-outdated", "report " + report.sequence() + " of this agent arrived"
                    + " after report " + last.sequence() + " (held up in the network); it was not taken in");
        }
        Instant now = Instant.now();
        boolean inventoryChanged = previous.isEmpty()
                || !previous.get().inventory().endpoint().equals(report.inventory().endpoint())
                || !previous.get().inventory().hostname().equals(report.inventory().hostname());
        Instant persisted = lastPersisted.get(hostId);
        if (inventoryChanged || persisted == null || persisted.isBefore(now.minus(PERSIST_LAST_SEEN))) {
            boolean isNew = hosts.upsert(report.inventory(), now);
            if (report.inventory().storageDomainId() != null) {
                hosts.find(hostId).ifPresent(h -> storageDomainSeen.accept(h.clusterId(),
                        report.inventory().storageDomainId()));
            }
            lastPersisted.put(hostId, now);
            if (isNew) {
                audit.record(new AuditLog.Entry(Actor.agent(report.inventory().hostname()), "host.register", "host",
                        hostId, report.inventory().hostname(), null, Map.of("endpoint", report.inventory().endpoint(),
                        "cpus", report.inventory().cpus(), "memoryMiB", report.inventory().memoryMiB()),
                        "first report from this host", Outcome.SUCCESS, null));
                LOG.info("new host {} ({}) at {}", report.inventory().hostname(), hostId, report.inventory().endpoint());
            }
        }
        if (previous.isPresent() && !previous.get().report().agentStartedAt().equals(report.agentStartedAt())) {
            LOG.info("agent of host {} restarted", report.inventory().hostname());
            audit.record(new AuditLog.Entry(Actor.agent(report.inventory().hostname()), "host.agent-restarted", "host",
                    hostId, report.inventory().hostname(), null, null, "agent process restarted at "
                    + report.agentStartedAt(), Outcome.SUCCESS, null));
        }
        // VM states first, then the host counts as reporting: a reader must never see a freshly connected
        // host together with the observations of its previous agent.
        ingestVms(report);
        board.put(report);
        if (previous.isEmpty()) {
            onNewHost.run();
        }
        onChange.run();
        return afterReport.apply(report);
    }

    /**
     * True when {@code report} is older than {@code last}, the newest report taken in from the same agent process:
     * a request the agent gave up on (its network was cut) can still arrive later, when the kernel delivers what
     * was left in the socket - its VM states and heartbeat are history then and must not count as news.
     * Reports of another agent process (it restarted) are always taken in.
     */
    static boolean delayed(HostReport last, HostReport report) {
        return last.agentStartedAt() != null && last.agentStartedAt().equals(report.agentStartedAt())
                && report.sequence() <= last.sequence();
    }

    private void ingestVms(HostReport report) {
        String hostId = report.inventory().hostId();
        String hostName = report.inventory().hostname();
        List<VmRecord> assigned = vms.onHost(hostId);
        Set<String> reported = new HashSet<>();
        for (VmStatus s : report.vms()) {
            reported.add(s.vmId());
            Optional<VmRecord> vm = assigned.stream().filter(v -> v.id().equals(s.vmId())).findFirst();
            if (vm.isEmpty()) {
                if (s.state().hasProcess() && warnedOrphans.add(s.vmId())) {
                    LOG.warn("host {} runs VM {} that the manager does not know (left alone)", hostName, s.vmId());
                }
                continue;
            }
            if (newerObservation(s.vmId(), hostId, report)) {
                continue;
            }
            Optional<ObservedStore.Observed> before = observed.put(hostId, s);
            transitions(vm.get(), before.map(ObservedStore.Observed::status).orElse(null), s, hostName);
        }
        for (VmRecord vm : assigned) {
            if (!reported.contains(vm.id()) && vm.lifecycle() == Lifecycle.READY && observed.get(vm.id()).isPresent()
                    && !newerObservation(vm.id(), hostId, report)) {
                observed.put(hostId, new VmStatus(vm.id(), VmState.STOPPED, "not defined on host " + hostName, null,
                        null, Instant.now(), null, null, List.of(), vm.specVersion()));
            }
        }
    }

    /**
     * True when the manager learned about the VM from this host's direct answer (e.g. to a start) after the
     * report was sent: the report is older news and must not undo it.
     */
    private boolean newerObservation(String vmId, String hostId, HostReport report) {
        Optional<ObservedStore.Observed> o = observed.get(vmId);
        return o.isPresent() && hostId.equals(o.get().hostId()) && report.sentAt() != null
                && o.get().receivedAt().isAfter(report.sentAt())
                && o.get().receivedAt().isBefore(report.sentAt().plusSeconds(5));
    }

    /** Side effects of observed changes: desired state follows a guest power-off; crashes are audited. */
    private void transitions(VmRecord vm, VmStatus before, VmStatus now, String hostName) {
        boolean newEnd = before == null || before.state() != now.state() || !java.util.Objects.equals(before.since(),
                now.since());
        if (!newEnd) {
            return;
        }
        if (now.state() == VmState.STOPPED && now.cause() == StopCause.GUEST && vm.powerState() != PowerState.STOPPED
                && now.since() != null && now.since().isAfter(vm.powerChangedAt())) {
            Instant at = Instant.now();
            vms.jdbi().useTransaction(h -> {
                vms.setPower(h, vm.id(), PowerState.STOPPED, at);
                audit.record(h, new AuditLog.Entry(Actor.guest(vm.name()), "vm.guest-shutdown", "vm", vm.id(),
                        vm.name(), Map.of("powerState", vm.powerState().json()), Map.of("powerState", "stopped"),
                        now.reason(), Outcome.SUCCESS, null));
            });
            LOG.info("VM {} powered itself off; desired state is now stopped", vm.name());
        } else if (now.state() == VmState.CRASHED && (before == null || before.state() != VmState.CRASHED
                || !java.util.Objects.equals(before.since(), now.since()))) {
            audit.record(new AuditLog.Entry(Actor.agent(hostName), "vm.crashed", "vm", vm.id(), vm.name(),
                    before == null ? null : Map.of("state", before.state().json()), Map.of("state", "crashed"),
                    now.reason(), Outcome.FAILURE, null));
            LOG.warn("VM {} crashed on host {}: {}", vm.name(), hostName, now.reason());
        }
    }
}
