package org.carevisor.manager.ha;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The high-availability decision logic, without I/O and without a clock of its own: the caller feeds it
 * observations (heartbeats, storage lease renewals seen by peers, fencing results, VMs reported running)
 * with their time, calls {@link #tick} and carries out the returned decisions. The simulation harness
 * drives it with simulated time and hosts; the manager's {@code HaService} with real ones.
 *
 * <p>A host that stops sending heartbeats is {@code suspect}. If peers still see its storage lease renewed
 * it is {@code isolated} (alive, only its network to the manager is gone): its VMs keep running there and
 * are not restarted. Otherwise it is fenced when a fence agent is configured; it is {@code dead} when the
 * fence succeeded or its lease has certainly expired (not renewed for {@link Config#leaseTimeout}, longer
 * than the time after which the host kills its own HA VMs when it cannot renew). Only then are its HA VMs
 * restarted elsewhere, highest priority first and after the VMs they depend on. A VM is never restarted
 * while the engine cannot rule out that it still runs on its old host.
 *
 * <p>Leases reach the engine only after their owner's signature was checked ({@link LeaseIntake}). A lease counts
 * as a renewal only when its counter is above every counter seen of that host before, so an old lease sent again
 * never makes a host look more alive; a peer's counter may lead the owner's own last word by at most
 * {@link #maxJump}, so no single high value can leave the honest renewals below it. Observations of hosts the
 * engine does not know are ignored, and a failure while judging one host or VM is reported as a {@code failed}
 * decision for it while the others are judged as usual. Not thread-safe: one caller.
 *
 * <p>Boot window: after the engine starts (a manager start, or a whole site powered on again) a host it has not heard
 * from yet is {@code booting}, not suspect, for {@link #bootWindow(Duration)} (default {@link #DEFAULT_BOOT_WINDOW}):
 * being silent across a manager start says nothing about a host, and fencing hosts while they boot would switch
 * off a site coming back from a power cut. Within the window such a host is declared dead only when its death is
 * certain without fencing: it holds an HA VM and peers that report have seen its storage lease without a renewal for
 * {@link Config#leaseTimeout}. After the window it is judged as any silent host (suspect, fenced, dead).
 */
public final class HaEngine {
    /** Timing. {@code leaseTimeout} must exceed the hosts' self-fence time plus one renewal period. */
    public record Config(Duration heartbeatTimeout, Duration leaseTimeout, Duration fenceRetry, Duration restartTimeout) {
        public static Config defaults() {
            return new Config(org.carevisor.protocol.HaTimings.HEARTBEAT_TIMEOUT,
                    org.carevisor.protocol.HaTimings.LEASE_EXPIRED, Duration.ofSeconds(5), Duration.ofSeconds(60));
        }
    }

    /**
     * Health of a host as the engine sees it. {@code MAINTENANCE}: the host is in maintenance and holds no HA VM,
     * so it may be switched off or rebooted (firmware, kernel) without being fenced or declared dead.
     */
    public enum Health { UP, SUSPECT, ISOLATED, FENCING, DEAD, MAINTENANCE }

    /** How long after the engine starts a host it has not heard from yet is waited for before it is suspected. */
    public static final Duration DEFAULT_BOOT_WINDOW = Duration.ofMinutes(10);

    /** What the caller must do (or log). */
    public record Decision(Kind kind, String host, String vm, String detail) {
        /** The kinds of decision. */
        public enum Kind { BOOTING, SUSPECT, ISOLATED, RECOVERED, FENCE, DEAD, RELEASED, LOST, RESTART, WAIT, NO_ROOM, STOP_STRAY, GAVE_UP,
            RESET, LIMIT, MAINTENANCE, WATCHED, STOPPED_IN_ORDER, FAILED }

        @Override
        public String toString() {
            return kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-') + (host == null ? "" : " host=" + host)
                    + (vm == null ? "" : " vm=" + vm) + (detail == null ? "" : ": " + detail);
        }
    }

    /** Chooses a host for a VM among those that are up, or empty when none has room. */
    public interface Placer {
        Optional<String> place(String vm, Set<String> upHosts);
    }

    /** A host's state (persisted by the manager; see {@link #snapshot}). */
    public static final class HostState {
        final String id;
        Health health = Health.UP;
        Instant lastHeartbeat;
        Instant lastLeaseAdvance;
        /** The highest lease counter accepted: a lease must exceed it to count as a renewal. */
        long leaseCounter = -1;
        /** The counter of the owner's own lease in its own last report (-1: none since the engine started). */
        long anchorCounter = -1;
        Instant anchorAt;
        /** Why the last evaluation of this host failed (null: it did not). */
        String failure;
        Instant suspectSince;
        boolean fenceConfigured;
        boolean maintenance;
        /** Switched off by an orderly site shutdown, not back since: never suspected, fenced or declared dead. */
        boolean poweredOff;
        /** Unmarked from {@link #poweredOff} since the last evaluation (for the decision's text). */
        boolean backFromSite;
        Instant fenceRequestedAt;
        int fenceAttempts;
        boolean fenced;
        Set<String> released = Set.of();
        /** The first heartbeat since the engine started (null: not heard from since). */
        Instant firstHeardAt;
        /** When it left maintenance (or the site shutdown's exemption) without a heartbeat since; null otherwise. */
        Instant leftExemptAt;
        boolean bootWaitLogged;
        /** Since when peers have seen the lease without a renewal (null: no peer has reported it yet). */
        Instant leaseWatchedFrom;
        /** When a peer last reported the lease. */
        Instant leaseSeenAt;

        HostState(String id) {
            this.id = id;
        }

        public Health health() {
            return health;
        }
    }

    /** A VM's HA state. {@code restartingOn} is set while a restart elsewhere is under way. */
    public static final class VmState {
        final String id;
        String host;
        boolean ha;
        int priority;
        List<String> after = List.of();
        boolean running;
        boolean needsRestart;
        String restartingOn;
        Instant restartRequestedAt;
        Instant retryAt;
        boolean waitingLogged;
        boolean noRoomLogged;
        int maxRestartsPerHour = 3;
        String failure;
        final java.util.ArrayDeque<Instant> localRestarts = new java.util.ArrayDeque<>();

        VmState(String id) {
            this.id = id;
        }

        public String host() {
            return host;
        }

        public boolean needsRestart() {
            return needsRestart || restartingOn != null;
        }
    }

    /** What became of a lease observation. */
    public enum LeaseUpdate {
        /** A renewal: its counter is the highest seen. */
        ADVANCED,
        /** Not above the highest counter seen (an older observation, or an old lease sent again): nothing changes. */
        OLD,
        /** Further ahead of the owner's own last word than renewals can have gone since: nothing changes. */
        TOO_FAR,
        /** A host the engine does not know: ignored. */
        UNKNOWN_HOST
    }

    /**
     * How far a peer's lease counter may lead the owner's own lease in its last report, {@code sinceAnchor} after
     * that report: one renewal per {@code HaTimings.LEASE_RENEW}, twice as fast for slack, plus 60.
     */
    public static long maxJump(Duration sinceAnchor) {
        return 60 + 2 * Math.max(0, sinceAnchor.toSeconds());
    }

    private final Config config;
    private Duration bootWindow = DEFAULT_BOOT_WINDOW;
    /** The first time the engine was given (restore, a host, a heartbeat or an evaluation). */
    private Instant startedAt;
    private final Map<String, HostState> hosts = new LinkedHashMap<>();
    private final Map<String, VmState> vms = new LinkedHashMap<>();

    public HaEngine(Config config) {
        this.config = config;
    }

    // ---- configuration

    /** How long after its start the engine waits for a host it has not heard from before suspecting it. */
    public void bootWindow(Duration window) {
        if (window.isNegative()) {
            throw new IllegalArgumentException("the boot window must not be negative: " + window);
        }
        this.bootWindow = window;
    }

    private void started(Instant now) {
        if (startedAt == null) {
            startedAt = now;
        }
    }

    public void host(String id, boolean fenceConfigured, Instant now) {
        host(id, fenceConfigured, false, now);
    }

    /** Defines or updates a host: whether a fence agent is configured, whether it is in maintenance. */
    public void host(String id, boolean fenceConfigured, boolean maintenance, Instant now) {
        started(now);
        HostState h = hosts.computeIfAbsent(id, HostState::new);
        h.fenceConfigured = fenceConfigured;
        h.maintenance = maintenance;
        if (h.lastHeartbeat == null) {
            h.lastHeartbeat = now;
            h.lastLeaseAdvance = now;
        }
    }

    /**
     * Marks a host switched off by an orderly site shutdown (its VMs were shut down in order, it was told to power
     * off): left alone like a host in maintenance, whatever HA VMs are assigned to it, until it is unmarked (its
     * agent reports again, accepting VM starts).
     */
    public void poweredOff(String id, boolean off) {
        HostState h = hosts.get(id);
        if (h != null) {
            h.backFromSite = h.backFromSite || h.poweredOff && !off;
            h.poweredOff = off;
        }
    }

    /** Defines or updates a VM: where it belongs, HA on/off, restart priority (higher first), dependencies. */
    public void vm(String id, String host, boolean ha, int priority, List<String> after) {
        VmState v = vms.computeIfAbsent(id, VmState::new);
        if (v.restartingOn == null && !v.needsRestart) {
            v.host = host;
        } else if (v.restartingOn == null && host != null && !host.equals(v.host)) {
            // Judged lost on its old host, but the record moved meanwhile without HA (a live migration handed over
            // just as the source's report without it came in): it was never lost, it runs where the record says.
            // Were it not running there, that host's next heartbeat without it finds it lost again.
            v.host = host;
            v.needsRestart = false;
            v.running = true;
        }
        v.ha = ha;
        v.priority = priority;
        v.after = List.copyOf(after);
    }

    public void removeVm(String id) {
        vms.remove(id);
    }

    /** Restarts on the VM's own host (its QEMU died, its health check failed) allowed per hour. */
    public void restartLimit(String id, int perHour) {
        VmState v = vms.get(id);
        if (v != null) {
            v.maxRestartsPerHour = perHour;
        }
    }

    /**
     * The VM should be running (manager start: it was running before, whatever happened since): a heartbeat of
     * its host without it means it is lost.
     */
    public void expectRunning(String id) {
        VmState v = vms.get(id);
        if (v != null && v.restartingOn == null && !v.needsRestart) {
            v.running = true;
        }
    }

    /**
     * The VM's guest failed its health check repeatedly: reset it in place ({@code RESET}), or, past the hourly
     * limit, leave it for an operator ({@code LIMIT}).
     */
    public List<Decision> healthFailed(String id, String detail, Instant now) {
        VmState v = vms.get(id);
        if (v == null || !v.ha || !v.running || v.needsRestart()) {
            return List.of();
        }
        if (!withinLimit(v, now)) {
            return List.of(new Decision(Decision.Kind.LIMIT, v.host, id, detail + "; " + v.localRestarts.size()
                    + " restart(s) in the last hour, the limit is " + v.maxRestartsPerHour + ": left for an operator"));
        }
        return List.of(new Decision(Decision.Kind.RESET, v.host, id, detail));
    }

    /** The VM no longer runs: it waits for a restart, and its wait and no-room conditions are logged afresh. */
    private static void awaitRestart(VmState v) {
        v.needsRestart = true;
        v.waitingLogged = false;
        v.noRoomLogged = false;
    }

    /** True and counted when one more restart on the VM's own host fits into the hourly limit. */
    private static boolean withinLimit(VmState v, Instant now) {
        while (!v.localRestarts.isEmpty() && v.localRestarts.peekFirst().isBefore(now.minus(Duration.ofHours(1)))) {
            v.localRestarts.removeFirst();
        }
        if (v.localRestarts.size() >= v.maxRestartsPerHour) {
            return false;
        }
        v.localRestarts.addLast(now);
        return true;
    }

    // ---- observations

    /** A heartbeat of {@code host}, with the VMs it runs. */
    public List<Decision> heartbeat(String host, Set<String> runningVms, Instant now) {
        return heartbeat(host, runningVms, Set.of(), now);
    }

    /**
     * A heartbeat of {@code host}, with the VMs it runs and those it stopped in order because the host was shut down
     * (a site or host shutdown): such an HA VM is not lost; it is started again on its host when the host is back
     * (by the manager's reconcile loop, in start order), and restarted elsewhere only if its host dies meanwhile.
     */
    public List<Decision> heartbeat(String host, Set<String> runningVms, Set<String> stoppedInOrder, Instant now) {
        started(now);
        HostState h = hosts.computeIfAbsent(host, HostState::new);
        List<Decision> out = new ArrayList<>();
        h.lastHeartbeat = now;
        if (h.leftExemptAt != null) {
            h.leftExemptAt = null;
            h.bootWaitLogged = false;
        }
        if (h.firstHeardAt == null) {
            h.firstHeardAt = now;
        }
        if (h.lastLeaseAdvance == null) {
            h.lastLeaseAdvance = now; // a host first heard of by its heartbeat: its lease is judged from now
        }
        if (h.health == Health.SUSPECT || h.health == Health.ISOLATED) {
            out.add(new Decision(Decision.Kind.RECOVERED, host, null, "heartbeats again"));
            h.health = Health.UP;
            h.suspectSince = null;
        } else if (h.health == Health.DEAD || h.health == Health.FENCING) {
            out.add(new Decision(Decision.Kind.RECOVERED, host, null, "reports again after it was "
                    + h.health.name().toLowerCase(java.util.Locale.ROOT) + "; it gets no VM back"));
            h.health = Health.UP;
            h.suspectSince = null;
            h.fenced = false;
            h.fenceRequestedAt = null;
            h.fenceAttempts = 0;
        }
        for (String vmId : new TreeSet<>(runningVms)) {
            VmState v = vms.get(vmId);
            if (v == null) {
                continue;
            }
            boolean belongsHere = host.equals(v.restartingOn) || v.restartingOn == null && !v.needsRestart
                    && host.equals(v.host);
            if (!belongsHere) {
                out.add(new Decision(Decision.Kind.STOP_STRAY, host, vmId, "the VM belongs to "
                        + (v.restartingOn != null ? v.restartingOn : v.host) + " now; stop it here"));
            } else if (host.equals(v.restartingOn)) {
                v.host = host;
                v.restartingOn = null;
                v.needsRestart = false;
                v.running = true;
            } else {
                v.running = true;
            }
        }
        // an HA VM that ran here and is gone (its QEMU ended, or the host's watchdog killed it because the host
        // lost its storage lease) is restarted, on a host whose lease is fresh
        for (VmState v : vms.values()) {
            if (v.ha && v.running && host.equals(v.host) && v.restartingOn == null && !v.needsRestart
                    && !runningVms.contains(v.id)) {
                v.running = false;
                if (stoppedInOrder.contains(v.id)) {
                    out.add(new Decision(Decision.Kind.STOPPED_IN_ORDER, host, v.id, "shut down in order with its host;"
                            + " the manager starts it again there, and HA watches it again once it runs"));
                } else if (withinLimit(v, now)) {
                    awaitRestart(v);
                    out.add(new Decision(Decision.Kind.LOST, host, v.id, "no longer runs on its host"));
                } else {
                    out.add(new Decision(Decision.Kind.LIMIT, host, v.id, "no longer runs on its host; "
                            + v.localRestarts.size() + " restart(s) in the last hour, the limit is "
                            + v.maxRestartsPerHour + ": left for an operator"));
                }
            }
        }
        return out;
    }

    /** True when the engine knows {@code host} (defined by {@link #host} or heard of by its heartbeat). */
    public boolean knows(String host) {
        return hosts.containsKey(host);
    }

    /** A peer saw {@code host}'s storage lease with {@code counter}. */
    public LeaseUpdate lease(String host, long counter, Instant now) {
        return lease(host, counter, Set.of(), now);
    }

    /**
     * A peer saw {@code host}'s storage lease (checked: signed by {@code host}) with {@code counter}; {@code
     * released}: VMs the host says it stopped because it lost its network (isolation response), so they may run
     * elsewhere. Counts only when the counter is above every one seen before, and no further ahead of the owner's
     * own last report than {@link #maxJump}.
     */
    public LeaseUpdate lease(String host, long counter, Set<String> released, Instant now) {
        HostState h = hosts.get(host);
        if (h == null) {
            return LeaseUpdate.UNKNOWN_HOST;
        }
        if (counter <= h.leaseCounter) {
            watched(h, now);
            return LeaseUpdate.OLD;
        }
        if (h.anchorCounter >= 0 && counter - h.anchorCounter > maxJump(Duration.between(h.anchorAt, now))) {
            return LeaseUpdate.TOO_FAR;
        }
        advance(h, counter, released, now);
        return LeaseUpdate.ADVANCED;
    }

    /**
     * The owner's own lease in its own report (checked: signed by it, and the report came over its own connection):
     * its word on its counter. It becomes the anchor the peers' observations are bounded by, and counts as a renewal
     * when it is new; a counter below the highest seen means the host started counting again (its local counter
     * and lease file were lost), and the highest is set back to it.
     */
    public LeaseUpdate ownLease(String host, long counter, Set<String> released, Instant now) {
        HostState h = hosts.get(host);
        if (h == null) {
            return LeaseUpdate.UNKNOWN_HOST;
        }
        h.anchorCounter = counter;
        h.anchorAt = now;
        if (counter == h.leaseCounter) {
            return LeaseUpdate.OLD;
        }
        advance(h, counter, released, now);
        return LeaseUpdate.ADVANCED;
    }

    private static void advance(HostState h, long counter, Set<String> released, Instant now) {
        h.leaseCounter = counter;
        h.lastLeaseAdvance = now;
        h.released = Set.copyOf(released);
        h.leaseWatchedFrom = now;
        h.leaseSeenAt = now;
    }

    /** A peer saw the lease unchanged. */
    private static void watched(HostState h, Instant now) {
        if (h.leaseWatchedFrom == null) {
            h.leaseWatchedFrom = now;
        }
        h.leaseSeenAt = now;
    }

    /** The result of a fencing attempt. */
    public void fenceResult(String host, boolean ok, Instant now) {
        HostState h = hosts.get(host);
        if (h == null || h.health != Health.FENCING) {
            return;
        }
        h.fenced = ok;
        h.fenceRequestedAt = ok ? h.fenceRequestedAt : now;
    }

    /** A restart failed on {@code host}: the VM waits for another attempt. */
    public void restartFailed(String vm, String host, Instant now) {
        VmState v = vms.get(vm);
        if (v != null && host.equals(v.restartingOn)) {
            v.restartingOn = null;
            v.needsRestart = true;
            v.retryAt = now.plus(config.fenceRetry());
        }
    }

    // ---- evaluation

    /**
     * One evaluation. A host or VM whose judgement fails (a bug, or state no input should have made) is named in one
     * {@code failed} decision until it is judged again without failing; every other host and VM is judged as usual.
     */
    public List<Decision> tick(Instant now) {
        started(now);
        List<Decision> out = new ArrayList<>();
        for (HostState h : hosts.values()) {
            try {
                evaluate(h, now, out);
                h.failure = null;
            } catch (RuntimeException e) {
                String why = String.valueOf(e);
                if (!why.equals(h.failure)) {
                    out.add(new Decision(Decision.Kind.FAILED, h.id, null, "judging this host failed (" + why
                            + "); the other hosts are judged as usual"));
                }
                h.failure = why;
            }
        }
        restarts(now, out);
        return out;
    }

    private void evaluate(HostState h, Instant now, List<Decision> out) {
        if (h.lastHeartbeat == null) {
            h.lastHeartbeat = now; // never heard of: judged from now on
        }
        if (h.lastLeaseAdvance == null) {
            h.lastLeaseAdvance = now;
        }
        // A host in maintenance that holds no HA VM is left alone: switched off or rebooting, it is not fenced or
        // declared dead. One that still holds an HA VM (its evacuation did not finish) is watched as any other.
        // A host switched off by a site shutdown is left alone too, with its (stopped) HA VMs: they start again
        // in start order when it is back.
        boolean exempt = h.poweredOff || h.maintenance && !holdsHaVm(h.id);
        if (h.health == Health.MAINTENANCE) {
            if (exempt) {
                return;
            }
            h.health = Health.UP;
            h.suspectSince = null;
            // switched off or rebooting while exempt, it may still boot: not suspected before it reports again
            // (within the boot window), as after a manager start
            h.leftExemptAt = now;
            out.add(new Decision(Decision.Kind.WATCHED, h.id, null, h.maintenance
                    ? "in maintenance, but an HA VM is assigned to it: watched (and fenced if it fails) again"
                    : h.backFromSite ? "reports again after the site shutdown: watched again"
                    : "out of maintenance: watched again"));
            h.backFromSite = false;
        } else if (exempt && (h.health == Health.UP || h.health == Health.SUSPECT || h.health == Health.ISOLATED)) {
            h.health = Health.MAINTENANCE;
            h.suspectSince = null;
            out.add(new Decision(Decision.Kind.MAINTENANCE, h.id, null, h.poweredOff
                    ? "switched off by the site shutdown: not suspected, fenced or declared dead until it reports"
                    + " again; its VMs start again in start order then"
                    : "in maintenance and no HA VM on it: it may be switched off or rebooted; not fenced or declared"
                    + " dead until it leaves maintenance"));
            return;
        }
        Duration silent = Duration.between(h.lastHeartbeat, now);
        Duration leaseAge = Duration.between(h.lastLeaseAdvance, now);
        boolean leaseExpired = leaseAge.compareTo(config.leaseTimeout()) >= 0;
        switch (h.health) {
            case UP -> {
                if (h.firstHeardAt == null && now.isBefore(startedAt.plus(bootWindow))) {
                    awaitBoot(h, now, out);
                } else if (h.leftExemptAt != null && h.lastHeartbeat.isBefore(h.leftExemptAt)
                        && now.isBefore(h.leftExemptAt.plus(bootWindow))) {
                    if (!h.bootWaitLogged) {
                        h.bootWaitLogged = true;
                        out.add(new Decision(Decision.Kind.BOOTING, h.id, null, "left maintenance without reporting"
                                + " since (it may still boot); waited for up to " + bootText() + " before it is"
                                + " suspected, not fenced meanwhile"));
                    }
                } else if (silent.compareTo(config.heartbeatTimeout()) > 0) {
                    h.health = Health.SUSPECT;
                    h.suspectSince = now;
                    out.add(new Decision(Decision.Kind.SUSPECT, h.id, null, "no heartbeat for " + secs(silent)));
                }
            }
            case SUSPECT, ISOLATED -> {
                boolean renewing = h.lastLeaseAdvance.isAfter(h.lastHeartbeat)
                        && leaseAge.compareTo(config.heartbeatTimeout()) <= 0;
                if (renewing) {
                    if (h.health != Health.ISOLATED) {
                        h.health = Health.ISOLATED;
                        out.add(new Decision(Decision.Kind.ISOLATED, h.id, null, "no heartbeat, but its storage lease"
                                + " is renewed: the host runs, its network is cut; its VMs stay until it releases them"));
                    }
                    for (VmState v : vms.values()) {
                        if (v.ha && h.id.equals(v.host) && v.restartingOn == null && !v.needsRestart
                                && h.released.contains(v.id)) {
                            v.running = false;
                            awaitRestart(v);
                            out.add(new Decision(Decision.Kind.RELEASED, h.id, v.id, "released by the isolated host (it"
                                    + " stopped the VM when it lost its network)"));
                        }
                    }
                } else if (h.fenceConfigured) {
                    h.health = Health.FENCING;
                    h.fenceRequestedAt = now;
                    h.fenceAttempts = 1;
                    out.add(new Decision(Decision.Kind.FENCE, h.id, null, "attempt 1"));
                } else if (leaseExpired) {
                    dead(h, "no renewal of its storage lease seen for " + secs(leaseAge) + " (no fence agent)", out);
                }
            }
            case FENCING -> {
                if (h.fenced) {
                    dead(h, "fenced", out);
                } else if (leaseExpired) {
                    dead(h, "no renewal of its storage lease seen for " + secs(leaseAge) + " (fencing did not succeed)", out);
                } else if (Duration.between(h.fenceRequestedAt, now).compareTo(config.fenceRetry()) >= 0) {
                    h.fenceRequestedAt = now;
                    h.fenceAttempts++;
                    out.add(new Decision(Decision.Kind.FENCE, h.id, null, "attempt " + h.fenceAttempts));
                }
            }
            case DEAD -> {
                // stays dead until it reports again
            }
            case MAINTENANCE -> {
                // handled above
            }
        }
    }

    /**
     * A host not heard from since the engine started, within the boot window: it boots (or is switched off) and is
     * neither suspected nor fenced. It is dead only when that is certain without fencing: it holds an HA VM and
     * peers have seen its lease without a renewal for the lease timeout, up to a moment ago.
     */
    private void awaitBoot(HostState h, Instant now, List<Decision> out) {
        if (!h.bootWaitLogged) {
            h.bootWaitLogged = true;
            out.add(new Decision(Decision.Kind.BOOTING, h.id, null, "not heard from since the manager started; waited"
                    + " for up to " + bootText() + " before it is suspected, not fenced meanwhile"));
        }
        if (h.leaseWatchedFrom == null || !holdsHaVm(h.id)) {
            return;
        }
        Duration unchanged = Duration.between(h.leaseWatchedFrom, h.leaseSeenAt);
        boolean seenLately = Duration.between(h.leaseSeenAt, now).compareTo(config.heartbeatTimeout()) <= 0;
        if (seenLately && unchanged.compareTo(config.leaseTimeout()) >= 0) {
            dead(h, "not heard from since the manager started, and peers saw its storage lease without a renewal for "
                    + secs(unchanged), out);
        }
    }

    private String bootText() {
        return bootWindow.toSeconds() % 60 == 0 ? bootWindow.toMinutes() + " min" : bootWindow.toSeconds() + " s";
    }

    /** True when an HA VM runs on the host, is assigned to it, or is being restarted there. */
    private boolean holdsHaVm(String hostId) {
        return vms.values().stream().anyMatch(v -> v.ha && (hostId.equals(v.host) || hostId.equals(v.restartingOn)));
    }

    private void dead(HostState h, String why, List<Decision> out) {
        h.health = Health.DEAD;
        out.add(new Decision(Decision.Kind.DEAD, h.id, null, why));
        for (VmState v : vms.values()) {
            if (h.id.equals(v.host) && v.restartingOn == null) {
                v.running = false;
                if (v.ha) {
                    awaitRestart(v);
                }
            } else if (h.id.equals(v.restartingOn)) {
                v.restartingOn = null;
                v.needsRestart = true;
            }
        }
    }

    private void restarts(Instant now, List<Decision> out) {
        Set<String> up = new TreeSet<>();
        // a restart target must be up, heard from since the engine started (a lease file read for the first time
        // after a manager start may look renewed while its host is still switched off) and renewing its lease
        hosts.values().stream().filter(x -> x.health == Health.UP && x.firstHeardAt != null && x.lastLeaseAdvance != null
                && Duration.between(x.lastLeaseAdvance, now).compareTo(config.heartbeatTimeout()) <= 0)
                .forEach(x -> up.add(x.id));
        // a restart that was not confirmed in time is tried again (the engine knows the old start did not
        // happen because the target reports its VMs: a running VM would have confirmed)
        for (VmState v : vms.values()) {
            if (v.restartingOn != null && Duration.between(v.restartRequestedAt, now)
                    .compareTo(config.restartTimeout()) > 0) {
                out.add(new Decision(Decision.Kind.GAVE_UP, v.restartingOn, v.id, "not running there after "
                        + secs(config.restartTimeout()) + "; trying again"));
                v.restartingOn = null;
                v.needsRestart = true;
            }
        }
        List<VmState> pending = vms.values().stream().filter(v -> v.ha && v.needsRestart && v.restartingOn == null
                        && (v.retryAt == null || !now.isBefore(v.retryAt)))
                .sorted(Comparator.comparingInt((VmState v) -> -v.priority).thenComparing(v -> v.id)).toList();
        for (VmState v : pending) {
            try {
                restart(v, up, now, out);
                v.failure = null;
            } catch (RuntimeException e) {
                String why = String.valueOf(e);
                if (!why.equals(v.failure)) {
                    out.add(new Decision(Decision.Kind.FAILED, null, v.id, "planning the restart of this VM failed ("
                            + why + "); tried again in the next evaluation"));
                }
                v.failure = why;
            }
        }
    }

    private void restart(VmState v, Set<String> up, Instant now, List<Decision> out) {
        List<String> missing = v.after.stream().filter(d -> {
            VmState dep = vms.get(d);
            return dep != null && (!dep.running || dep.needsRestart());
        }).toList();
        if (!missing.isEmpty()) {
            if (!v.waitingLogged) {
                out.add(new Decision(Decision.Kind.WAIT, null, v.id, "waits for " + String.join(", ", missing)));
                v.waitingLogged = true;
            }
            return;
        }
        Optional<String> target = placer.place(v.id, up);
        if (target.isEmpty()) {
            if (!v.noRoomLogged) {
                out.add(new Decision(Decision.Kind.NO_ROOM, null, v.id, "no host that is up has room"));
                v.noRoomLogged = true;
            }
            return;
        }
        v.restartingOn = target.get();
        v.restartRequestedAt = now;
        v.needsRestart = false;
        out.add(new Decision(Decision.Kind.RESTART, target.get(), v.id, "priority " + v.priority + ", was on "
                + v.host));
    }

    private Placer placer = (vm, up) -> up.stream().findFirst();

    public void placer(Placer p) {
        this.placer = p;
    }

    // ---- views and persistence

    public Health health(String host) {
        HostState h = hosts.get(host);
        return h == null ? null : h.health;
    }

    public VmState vmState(String id) {
        return vms.get(id);
    }

    /** The ids of the VMs the engine knows. */
    public Set<String> vmIds() {
        return Set.copyOf(vms.keySet());
    }

    public Map<String, HostState> hosts() {
        return hosts;
    }

    /**
     * What the engine knows of a host's lease, kept across manager restarts so that leases seen before a restart
     * never count as renewals after it.
     *
     * @param counter  the highest counter accepted
     * @param anchor   the counter of the owner's own lease in its last report (-1: none)
     * @param anchorAt when that report arrived (null: none)
     */
    public record LeaseMark(long counter, long anchor, Instant anchorAt) {
    }

    /**
     * The durable part of the state: host health and fencing, VMs awaiting or under restart, what is known of each
     * host's lease (null in a state saved by an older version).
     */
    public record Snapshot(Map<String, String> hostHealth, Map<String, Boolean> hostFenced,
                           Map<String, String> vmHost, Map<String, String> vmRestartingOn,
                           Map<String, Boolean> vmNeedsRestart, Map<String, LeaseMark> hostLease) {
        /** The same state without the lease marks (which change with every renewal). */
        public Snapshot withoutLeases() {
            return new Snapshot(hostHealth, hostFenced, vmHost, vmRestartingOn, vmNeedsRestart, null);
        }

        /**
         * Whether this snapshot is worth saving over {@code saved} (saved {@code savedAt}): when anything but the
         * lease marks changed, at once; when only the marks did, once {@link #LEASE_SAVE_INTERVAL} has passed.
         */
        public boolean worthSaving(Snapshot saved, Instant savedAt, Instant now) {
            if (saved == null || savedAt == null || !withoutLeases().equals(saved.withoutLeases())) {
                return true;
            }
            return !java.util.Objects.equals(hostLease, saved.hostLease)
                    && !now.isBefore(savedAt.plus(LEASE_SAVE_INTERVAL));
        }
    }

    /** How often lease marks alone are saved: a restarted manager may take leases up to this old as new. */
    public static final Duration LEASE_SAVE_INTERVAL = Duration.ofSeconds(30);

    public Snapshot snapshot() {
        Map<String, String> health = new LinkedHashMap<>();
        Map<String, Boolean> fenced = new LinkedHashMap<>();
        Map<String, LeaseMark> leases = new LinkedHashMap<>();
        hosts.values().forEach(h -> {
            health.put(h.id, h.health.name());
            fenced.put(h.id, h.fenced);
            if (h.leaseCounter >= 0 || h.anchorCounter >= 0) {
                leases.put(h.id, new LeaseMark(h.leaseCounter, h.anchorCounter, h.anchorAt));
            }
        });
        Map<String, String> host = new LinkedHashMap<>();
        Map<String, String> restarting = new LinkedHashMap<>();
        Map<String, Boolean> needs = new LinkedHashMap<>();
        vms.values().forEach(v -> {
            host.put(v.id, v.host);
            if (v.restartingOn != null) {
                restarting.put(v.id, v.restartingOn);
            }
            needs.put(v.id, v.needsRestart);
        });
        return new Snapshot(health, fenced, host, restarting, needs, leases);
    }

    /**
     * Restores the durable state after a manager restart. Every host gets a fresh heartbeat deadline from
     * {@code now} (the new manager has heard nothing yet); a host that was dead stays dead; restarts under way
     * keep their target, so no VM is started a second time elsewhere; a lease counts as a renewal only above the
     * highest counter saved.
     */
    public void restore(Snapshot s, Instant now) {
        started(now);
        s.hostHealth().forEach((id, health) -> {
            HostState h = hosts.computeIfAbsent(id, HostState::new);
            h.health = Health.valueOf(health);
            if (h.health == Health.SUSPECT || h.health == Health.ISOLATED || h.health == Health.FENCING) {
                h.health = Health.UP; // judged again from fresh observations
            }
            h.fenced = Boolean.TRUE.equals(s.hostFenced().get(id));
            h.lastHeartbeat = now;
            h.lastLeaseAdvance = now;
            LeaseMark mark = s.hostLease() == null ? null : s.hostLease().get(id);
            h.leaseCounter = mark == null ? -1 : mark.counter();
            h.anchorCounter = mark == null || mark.anchorAt() == null ? -1 : mark.anchor();
            h.anchorAt = mark == null ? null : mark.anchorAt();
        });
        s.vmHost().forEach((id, host) -> {
            VmState v = vms.computeIfAbsent(id, VmState::new);
            v.host = host;
            v.restartingOn = s.vmRestartingOn().get(id);
            v.restartRequestedAt = now;
            v.needsRestart = Boolean.TRUE.equals(s.vmNeedsRestart().get(id));
        });
    }

    private static String secs(Duration d) {
        return String.format(java.util.Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
    }
}
