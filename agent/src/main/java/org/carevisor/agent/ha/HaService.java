package org.carevisor.agent.ha;

import java.io.IOException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.carevisor.agent.vm.VmRegistry;
import org.carevisor.protocol.HaTimings;
import org.carevisor.protocol.LeaseSeen;
import org.carevisor.protocol.ReportAck;
import org.carevisor.protocol.SignedLease;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's half of high availability, wired together: the storage lease ({@link HostLease}), the HA
 * settings from the manager ({@link AckStore}), the watchdog process ({@link Watchdog}) with the list of HA
 * QEMU pids it would kill, and the isolation response ({@link IsolationCheck}).
 *
 * <p>Lifecycle: {@link #start} replaces an earlier agent's watchdog by a new one (unless disabled) and
 * starts renewing; after the first successful renewal the watchdog is switched to mode {@code agent}.
 * {@link #close} stops renewing, signs a stock of leases ahead ({@link KeeperStock}) and switches the watchdog to
 * {@code keeper}: the agent stops, its VMs run on, the watchdog writes those leases one a second; when the stock
 * runs out before a new agent takes over, the renewals stop and the watchdog kills the HA VMs. {@link
 * #closeAndStopWatchdog} stops the watchdog for good as well.
 *
 * <p>A monitor thread ({@code ha-monitor}) rewrites {@link HaDir#pids()} every second and after every VM or
 * HA set change, logs lease hangs, starts the watchdog again when it does not run in mode agent, and checks
 * for isolation: when no report
 * reached the manager for {@link HaTimings#ISOLATION} and no peer agent answers, and the isolation
 * response is {@code power-off}, every running HA VM is powered off with cause {@code isolation}; such VMs
 * are listed as released in the lease while they stay stopped with that cause. It never starts a VM.
 * Thread-safe.
 */
public final class HaService {
    private static final Logger LOG = LoggerFactory.getLogger(HaService.class);
    private static final Duration PEER_PROBE = Duration.ofSeconds(1);
    private static final Duration STOP_WAIT = Duration.ofSeconds(5);

    /**
     * Where and who.
     *
     * @param stateDir    the agent's state directory ({@code ha/} and the watchdog script go there)
     * @param storageRoot the shared storage root (leases go to {@link HaTimings#LEASE_DIR} in it)
     * @param hostId      this host
     * @param endpoint    this agent's API endpoint, written into the lease for peers
     * @param watchdog    run the watchdog process (a real host must; tests that need none may switch it off)
     * @param selfFence   how long without renewal before the watchdog kills the HA VMs
     * @param hostKey     the host's private key (of its agent certificate), which signs its leases
     * @param keeperTime  how long the watchdog may keep the lease after the agent stopped in order (one lease
     *                    signed ahead per second of it)
     */
    public record Settings(Path stateDir, Path storageRoot, String hostId, String endpoint, boolean watchdog,
                           Duration selfFence, PrivateKey hostKey, Duration keeperTime) {
    }

    private final VmRegistry vms;
    private final HaDir ha;
    private final AckStore acks;
    private final HostLease lease;
    private final Watchdog watchdog;
    private final Path stateDir;
    private final PrivateKey hostKey;
    private final Duration keeperTime;
    private final IsolationCheck.Reachability reach;
    private final ScheduledExecutorService monitor;
    private final AtomicBoolean pidsPending = new AtomicBoolean();
    private final Instant startedAt = Instant.now();
    private volatile Supplier<Instant> managerContact;
    private volatile Instant isolatedSince;

    // guarded by this
    private boolean started;
    private boolean closed;
    /** Set while {@link #close} signs the keeper's stock: a first renewal meanwhile must not remove it. */
    private volatile boolean closing;
    private boolean agentMode;

    /** Only the monitor thread touches this: HA VMs powered off in the current isolation. */
    private final Set<String> releasedNow = new HashSet<>();

    /** The HA service of the agent that runs {@code vms}; loads the kept HA settings. Starts nothing yet. */
    public HaService(Settings settings, VmRegistry vms) {
        this.vms = vms;
        this.stateDir = settings.stateDir().toAbsolutePath().normalize();
        this.ha = new HaDir(stateDir);
        this.acks = new AckStore(ha);
        this.reach = IsolationCheck.tcp(PEER_PROBE);
        this.hostKey = settings.hostKey();
        this.keeperTime = settings.keeperTime();
        this.lease = new HostLease(settings.storageRoot(), settings.hostId(), settings.endpoint(), ha,
                settings.hostKey(), this::released, () -> acks.current().peers(), this::renewed);
        this.watchdog = settings.watchdog() ? new Watchdog(stateDir, lease.file(), settings.selfFence()) : null;
        this.monitor = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("ha-monitor").factory());
    }

    /**
     * Starts the watchdog (or stops an earlier one when the watchdog is disabled), the lease renewals and the
     * monitor. {@code managerContact} tells when a report last reached the manager (null result: never);
     * without it (no manager configured) there is no isolation response.
     */
    public void start(Supplier<Instant> managerContact) {
        synchronized (this) {
            if (started || closed) {
                return;
            }
            started = true;
        }
        this.managerContact = managerContact;
        // before a watchdog starts: the pid list of an earlier agent may name QEMUs that are gone
        refreshPids();
        if (watchdog != null) {
            startWatchdog();
        } else {
            Watchdog.stopAny(stateDir, STOP_WAIT);
            try {
                ha.write(ha.mode(), Watchdog.Mode.OFF.word() + "\n");
            } catch (IOException e) {
                LOG.warn("cannot write {}: {}", ha.mode(), e.getMessage());
            }
            LOG.warn("the HA watchdog is disabled: this host does not kill its HA VMs when it loses its storage lease");
        }
        lease.start();
        monitor.scheduleWithFixedDelay(this::tick, 1, 1, TimeUnit.SECONDS);
    }

    private void startWatchdog() {
        try {
            watchdog.start();
        } catch (IOException | RuntimeException e) {
            LOG.error("cannot start the HA watchdog: {}; HA VMs of this host are not protected", e.getMessage());
        }
    }

    /**
     * Starts the watchdog again when it does not run while the agent renews the lease (mode agent): after
     * the first renewal (a watchdog found in mode keeper with nothing to guard has ended) or when it died.
     */
    private void ensureWatchdog() {
        boolean due;
        synchronized (this) {
            due = watchdog != null && agentMode && !closed;
        }
        if (due && watchdogPid().isEmpty()) {
            LOG.info("starting the HA watchdog");
            startWatchdog();
        }
    }

    /** Takes the manager's answer to a report. */
    public void accept(ReportAck ack) {
        if (acks.accept(ack)) {
            vmsChanged();
        }
    }

    /** A VM changed state: the pid list is rewritten soon (on the monitor thread; does not block). */
    public void vmsChanged() {
        if (pidsPending.compareAndSet(false, true)) {
            try {
                monitor.execute(() -> {
                    pidsPending.set(false);
                    refreshPids();
                });
            } catch (RejectedExecutionException e) {
                pidsPending.set(false); // closed
            }
        }
    }

    /** The HA settings in force (the manager's last ack). */
    public ReportAck settings() {
        return acks.current();
    }

    /** Every host's storage lease as last read, for the report. */
    public List<LeaseSeen> leases() {
        return lease.leases();
    }

    public HostLease.Health leaseHealth() {
        return lease.health();
    }

    /** When this host became isolated (null: it is not). */
    public Instant isolatedSince() {
        return isolatedSince;
    }

    /** The pid of the watchdog process, when one runs for this state directory. */
    public Optional<Long> watchdogPid() {
        return Watchdog.running(stateDir);
    }

    /** Conditions an operator should know about, for the host inventory. */
    public List<String> warnings() {
        List<String> out = new ArrayList<>();
        HostLease.Health h = lease.health();
        if (!h.ok()) {
            out.add("HA: the storage lease has not been renewed since " + (h.lastRenewed() == null
                    ? "the agent started" : h.lastRenewed()) + " (" + h.problem() + "); the watchdog kills this"
                    + " host's HA VMs after " + HaTimings.SELF_FENCE.toSeconds() + " s without renewal");
        }
        boolean protecting = !acks.current().haVms().isEmpty();
        if (watchdog == null && protecting) {
            out.add("HA: the watchdog is disabled (--ha-watchdog false): this host's HA VMs are not killed when"
                    + " it loses its storage lease");
        } else if (watchdog != null && protecting && isRunning() && watchdogPid().isEmpty()) {
            out.add("HA: the watchdog process is not running");
        }
        Instant since = isolatedSince;
        if (since != null) {
            out.add("HA: isolated since " + since + " (neither the manager nor a peer answers)");
        }
        return out;
    }

    private synchronized boolean isRunning() {
        return started && !closed;
    }

    /**
     * Stops renewing and hands the lease to the watchdog (mode {@code keeper}) with a stock of leases signed ahead
     * for {@link Settings#keeperTime}: the agent stops, its VMs run on and are re-adopted by the next agent.
     * Idempotent.
     */
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
        }
        if (watchdog == null || watchdogPid().isEmpty()) {
            shutdown();
            return;
        }
        // The stock is signed while the agent still renews: signing an hour of leases takes seconds on a loaded
        // host, and with the renewals already stopped the watchdog would kill the HA VMs meanwhile (7 s). The
        // keeper starts from the counter the agent wrote last (ha/counter + 1), which lies in the stock as long as
        // the agent renewed fewer times than the stock holds leases while it was signed.
        closing = true;
        int n;
        try {
            n = KeeperStock.write(ha, hostKey, lease.hostId(), lease.endpoint(), lease.counter() + 1,
                    (int) Math.max(0, keeperTime.toSeconds()), released(), Instant.now());
        } catch (IOException | RuntimeException e) {
            shutdown();
            LOG.warn("cannot hand the storage lease to the watchdog: {}; it kills this host's HA VMs after {} s",
                    e.getMessage(), HaTimings.SELF_FENCE.toSeconds());
            return;
        }
        if (!shutdown()) {
            return;
        }
        try {
            watchdog.mode(Watchdog.Mode.KEEPER);
            LOG.info("agent stopped: the HA watchdog keeps the storage lease with {} lease(s) signed ahead, for as long"
                    + " as VMs of this host run and at most {} min; after that it kills this host's HA VMs", n,
                    keeperTime.toMinutes());
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot hand the storage lease to the watchdog: {}; it kills this host's HA VMs after {} s",
                    e.getMessage(), HaTimings.SELF_FENCE.toSeconds());
        }
    }

    /** Stops like {@link #close()} but also stops the watchdog process for good, and waits until it is gone. */
    public void closeAndStopWatchdog() {
        shutdown();
        boolean gone = watchdog != null ? watchdog.stop(STOP_WAIT) : Watchdog.stopAny(stateDir, STOP_WAIT);
        if (!gone) {
            LOG.warn("the HA watchdog of {} did not stop", stateDir);
        }
    }

    /** Stops the monitor and the renewals; false when that happened before. */
    private boolean shutdown() {
        synchronized (this) {
            if (closed) {
                return false;
            }
            closed = true;
        }
        monitor.shutdownNow();
        if (!lease.stop(STOP_WAIT)) {
            LOG.warn("the storage lease renewal does not return (the storage hangs); stopping without it");
        }
        refreshPids();
        return true;
    }

    /** After each successful renewal: the first one switches the watchdog to mode agent. */
    private void renewed() {
        synchronized (this) {
            if (closed || agentMode || watchdog == null) {
                return;
            }
            try {
                watchdog.mode(Watchdog.Mode.AGENT);
                agentMode = true;
            } catch (IOException e) {
                LOG.warn("cannot switch the HA watchdog to mode agent: {}", e.getMessage());
                return;
            }
        }
        if (!closing) {
            KeeperStock.clear(ha); // what a keeper did not use is never written (unless it is the one for this stop)
        }
        LOG.info("storage lease renewed; the HA watchdog guards this host's HA VMs");
        try {
            monitor.execute(this::ensureWatchdog);
        } catch (RejectedExecutionException e) {
            // closed meanwhile
        }
    }

    /**
     * VMs this host released by its isolation response, as long as they stay stopped with that cause, each with the
     * start of the run that was stopped.
     */
    private List<SignedLease.Released> released() {
        return vms.statuses().stream().filter(v -> v.cause() == StopCause.ISOLATION && !v.state().hasProcess())
                .map(v -> new SignedLease.Released(v.vmId(), v.startedAt() == null ? 0 : v.startedAt().toEpochMilli()))
                .toList();
    }

    private void tick() {
        try {
            refreshPids();
            lease.warnOnce();
            ensureWatchdog();
            checkIsolation();
        } catch (RuntimeException e) {
            LOG.warn("HA monitor failed", e);
        }
    }

    /** Rewrites {@link HaDir#pids()}: {@code <vmId> <qemuPid>} of every HA VM with a QEMU process. */
    private void refreshPids() {
        Set<String> protectedVms = Set.copyOf(acks.current().haVms());
        StringBuilder lines = new StringBuilder();
        for (VmStatus v : vms.statuses()) {
            if (protectedVms.contains(v.vmId()) && v.state().hasProcess() && v.pid() != null) {
                lines.append(v.vmId()).append(' ').append(v.pid()).append('\n');
            }
        }
        try {
            ha.write(ha.pids(), lines.toString());
        } catch (IOException e) {
            LOG.warn("cannot write the HA pid list {}: {}", ha.pids(), e.getMessage());
        }
    }

    private void checkIsolation() {
        Supplier<Instant> contact = managerContact;
        if (contact == null) {
            return;
        }
        Instant last = contact.get();
        Instant now = Instant.now();
        IsolationCheck.Verdict v = IsolationCheck.assess(last == null || last.isBefore(startedAt) ? startedAt : last,
                now, lease.freshPeers(now, HaTimings.LEASE_EXPIRED), reach);
        ReportAck settings = acks.current();
        if (!v.isolated()) {
            if (isolatedSince != null) {
                LOG.info("this host is no longer isolated: {}", v.detail());
                isolatedSince = null;
                releasedNow.clear();
            }
            return;
        }
        if (isolatedSince == null) {
            isolatedSince = now;
            LOG.warn("this host is ISOLATED: {}; isolation response {}{}", v.detail(), settings.isolationResponse(),
                    ReportAck.POWER_OFF.equals(settings.isolationResponse())
                            ? ": its HA VMs are powered off and released to be restarted elsewhere"
                            : ": its HA VMs keep running");
        }
        if (!ReportAck.POWER_OFF.equals(settings.isolationResponse())) {
            return;
        }
        String reason = "HA isolation response: the host reached neither the manager nor a peer for "
                + v.silentFor().toSeconds() + " s";
        for (VmStatus s : vms.statuses()) {
            // an incoming migration's guest never ran here: it is not this host's to release
            if (settings.haVms().contains(s.vmId()) && s.state().hasProcess() && s.state() != VmState.INCOMING
                    && releasedNow.add(s.vmId())) {
                LOG.warn("VM {}: {}; powering it off", s.vmId(), reason);
                try {
                    vms.get(s.vmId()).powerOff(StopCause.ISOLATION, reason);
                } catch (RuntimeException e) {
                    releasedNow.remove(s.vmId());
                    LOG.warn("VM {}: power-off for the isolation response failed: {}", s.vmId(), e.getMessage());
                }
            }
        }
    }
}
