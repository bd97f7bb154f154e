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
    private final Map<String, Integer> heldUpInARow = new ConcurrentHashMap<>();
    /**
     * Longer than an agent waits for a report to be answered (ManagerReporter: 2 s to connect, 5 s for the answer):
     * a report held up longer than this is one its agent gave up on.
     */
    static final Duration HELD_UP = Duration.ofSeconds(8);
    static final int MAX_HELD_UP_IN_A_ROW = 3;
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
        Instant arrived = Instant.now();
        // one report of a host at a time, so that a delayed one cannot overtake the newer one it lost against
        synchronized (hostLocks.computeIfAbsent(report.inventory().hostId(), k -> new Object())) {
            return acceptInOrder(report, arrived);
        }
    }

    private org.carevisor.protocol.ReportAck acceptInOrder(HostReport report, Instant arrived) {
        String hostId = report.inventory().hostId();
        Optional<HostBoard.Entry> previous = board.get(hostId);
        String outdated = previous.isEmpty() ? null
                : outdated(previous.get(), report, Instant.now(), heldUpInARow.getOrDefault(hostId, 0));
        if (outdated != null) {
            heldUpInARow.merge(hostId, 1, Integer::sum);
            LOG.info("host {}: dropped report {} (sent at {} by the agent's clock): {}", report.inventory().hostname(),
                    report.sequence(), report.sentAt(), outdated);
            throw ApiException.conflict("report-outdated", "report " + report.sequence() + " was not taken in: "
                    + outdated);
        }
        heldUpInARow.remove(hostId);
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
        ingestVms(report, arrived);
        board.put(report);
        if (previous.isEmpty()) {
            onNewHost.run();
        }
        onChange.run();
        return afterReport.apply(report);
    }

    /**
     * Why {@code report} is history and must not be taken in, or null when it is news. {@code last} is the newest
     * report taken in from the host. Two kinds exist, both seen in the lab: a request the agent gave up on (its
     * network was cut) that the kernel still delivers when the link is back, and a report built just before its
     * agent froze, sent when it thawed. So a report is history when
     * <ul>
     * <li>it is not numbered above {@code last} of the same agent process (it lost a race against a newer one), or
     * <li>it arrived more than {@link #HELD_UP} later, relative to {@code last}, than the agent's own clock says it
     * was sent: the agent gives up on a report after that long, so it no longer stands for the host's state.
     * Both clocks are only compared with themselves, so they need not agree. A clock set back on the host would make
     * every report look held up; after {@link #MAX_HELD_UP_IN_A_ROW} in a row the next one is taken in.
     * </ul>
     * Reports of another agent process (it restarted) are always taken in.
     */
    static String outdated(HostBoard.Entry last, HostReport report, Instant received, int heldUpInARow) {
        HostReport l = last.report();
        if (l.agentStartedAt() == null || !l.agentStartedAt().equals(report.agentStartedAt())) {
            return null;
        }
        if (report.sequence() <= l.sequence()) {
            return "it arrived after report " + l.sequence() + " of the same agent (held up in the network)";
        }
        if (l.sentAt() == null || report.sentAt() == null || heldUpInARow >= MAX_HELD_UP_IN_A_ROW) {
            return null;
        }
        Duration byAgent = Duration.between(l.sentAt(), report.sentAt());
        Duration byManager = Duration.between(last.receivedAt(), received);
        Duration heldUp = byManager.minus(byAgent);
        if (heldUp.compareTo(HELD_UP) > 0) {
            return "sent " + seconds(byAgent) + " after report " + l.sequence() + " but arrived " + seconds(byManager)
                    + " after it: held up " + seconds(heldUp) + " (its agent had given up on it)";
        }
        return null;
    }

    private static String seconds(Duration d) {
        return String.format(java.util.Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
    }

    private void ingestVms(HostReport report, Instant arrived) {
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
            ObservedStore.Reported r = observed.putReported(hostId, s, report.sentAt(), arrived);
            if (r.stored()) {
                transitions(vm.get(), r.before().map(ObservedStore.Observed::status).orElse(null), s, hostName);
            }
        }
        for (VmRecord vm : assigned) {
            if (!reported.contains(vm.id()) && vm.lifecycle() == Lifecycle.READY && observed.get(vm.id()).isPresent()) {
                observed.putReported(hostId, new VmStatus(vm.id(), VmState.STOPPED, "not defined on host " + hostName,
                        null, null, Instant.now(), null, null, List.of(), vm.specVersion()), report.sentAt(), arrived);
            }
        }
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
