package org.carevisor.agent.vm;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.ActivateRequest;
import org.carevisor.protocol.IncomingResponse;
import org.carevisor.protocol.MigrationFinish;
import org.carevisor.protocol.MigrationRequest;
import org.carevisor.protocol.MigrationUri;
import org.carevisor.protocol.MigrationStatus;
import org.carevisor.protocol.NicSpec;
import org.carevisor.protocol.PortForward;
import org.carevisor.protocol.SnapshotRequest;
import org.carevisor.protocol.SnapshotResult;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmSpec;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.carevisor.qemu.ImageChain;
import org.carevisor.qemu.QmpClient;
import org.carevisor.qemu.QmpEvent;
import org.carevisor.qemu.QmpException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs and watches the QEMU process of one VM: start, shutdown with deadline, power-off, reset, pause,
 * resume, QMP events, exit classification and re-adoption after an agent restart. Thread-safe: every
 * state change happens under {@code lock}; QMP calls that may take long are made outside it.
 */
public final class VmSupervisor {
    private static final Logger LOG = LoggerFactory.getLogger(VmSupervisor.class);
    private static final Duration EXIT_STATUS_WAIT = Duration.ofSeconds(5);
    private static final Duration KILL_GRACE = Duration.ofSeconds(10);


    private final String vmId;
    private final VmFiles files;
    private final VmHost host;
    private final QemuLauncher launcher;
    private final StopTimers stopTimers;
    private final Object lock = new Object();

    // all guarded by lock
    private VmSpec spec;
    private VmState state = VmState.STOPPED;
    private String reason = "never started on this host";
    private StopCause cause;
    private Instant since = Instant.now();
    private Instant startedAt;
    private Integer exitCode;
    private Long pid;
    private Long wrapperPid;
    private QmpClient qmp;
    private long generation;
    private boolean exitHandled = true;
    private boolean adopted;
    private boolean killedByAgent;
    private VmFiles.StopRequest stopRequest;
    private String stopDetail;
    private Boolean guestShutdown;
    private String shutdownReason;
    /** Whether QEMU paused the VM for a full storage, and when to try resuming it. */
    private final NoSpaceResume noSpace = new NoSpaceResume();
    /** A snapshot job in progress: its STOP/RESUME events are recorded, not shown as "paused". */
    private String jobInProgress;
    private Instant jobStoppedAt;
    private Instant jobResumedAt;
    /** Status of the last MIGRATION event of this process ({@code none} before any migration). */
    private String migration = "none";
    /** This process is the destination of a migration whose guest has not run here yet. */
    private boolean incoming;
    /** State to return to when an outgoing migration does not hand over. */
    private VmState beforeMigration = VmState.RUNNING;

    public VmSupervisor(String vmId, VmFiles files, VmHost host) {
        this.vmId = vmId;
        this.files = files;
        this.host = host;
        this.launcher = new QemuLauncher(vmId, files, host);
        this.stopTimers = new StopTimers(host.scheduler());
    }

    public String vmId() {
        return vmId;
    }

    public VmFiles files() {
        return files;
    }

    /** A snapshot of what is observed now. */
    public VmStatus status() {
        synchronized (lock) {
            List<PortForward> forwards = new ArrayList<>();
            if (spec != null && state.hasProcess()) {
                for (NicSpec nic : spec.nics()) {
                    for (PortForward f : nic.forwards()) {
                        forwards.add(f.hostAddress() == null || f.hostAddress().isEmpty()
                                ? f.withHostAddress(host.qemu().forwardAddress()) : f);
                    }
                }
            }
            return new VmStatus(vmId, state, reason, state == VmState.PAUSED && noSpace.isPaused()
                    ? StopCause.NO_SPACE : cause, pid, since, startedAt, exitCode, forwards,
                    spec == null ? 0 : spec.specVersion());
        }
    }

    public boolean hasProcess() {
        synchronized (lock) {
            return state.hasProcess();
        }
    }

    /**
     * Starts QEMU for {@code newSpec} and returns once its monitor answers and the files it opened were checked
     * (only then does the guest run); fails if a process exists.
     */
    public VmStatus start(VmSpec newSpec) {
        refuseIfRunning();
        List<ImageChain> chains = launcher.checkDisks(newSpec); // reads the storage: not under the lock
        QemuLauncher.Started started;
        long gen;
        synchronized (lock) {
            started = begin(newSpec, false, chains);
            gen = generation;
        }
        started.process().onExit().thenRun(() -> onProcessGone(gen));
        QmpClient client = null;
        try {
            client = launcher.awaitMonitor(started.process(), socket -> connect(gen));
            launcher.release(started, client, true);
            attach(gen, client, true);
        } catch (AgentException e) {
            if (client != null) {
                client.close();
            }
            handleStartFailure(gen, e);
            throw e;
        }
        host.onChange().run();
        return status();
    }

    /** Refuses a start while a process exists, before the disks are checked. */
    private void refuseIfRunning() {
        synchronized (lock) {
            checkNoProcess();
        }
    }

    /** Refuses a start while a process exists; called with the lock held. */
    private void checkNoProcess() {
        if (state.hasProcess()) {
            throw AgentException.conflict("vm-running", "VM " + vmId + " is already " + state.json()
                    + " on this host (pid " + pid + ")");
        }
    }

    /**
     * Launches QEMU with the disks' checked {@code chains} and resets the per-process fields; called with the lock
     * held. Refuses again while a process exists (a start may have won the race since the disks were checked).
     */
    private QemuLauncher.Started begin(VmSpec newSpec, boolean asIncoming, List<ImageChain> chains) {
        checkNoProcess();
        QemuLauncher.Started started = launcher.launch(newSpec, asIncoming, chains);
        spec = newSpec;
        wrapperPid = started.process().pid();
        ++generation;
        exitHandled = false;
        adopted = false;
        killedByAgent = false;
        stopRequest = null;
        stopDetail = null;
        guestShutdown = null;
        shutdownReason = null;
        exitCode = null;
        cause = null;
        pid = null;
        startedAt = Instant.now();
        migration = "none";
        incoming = asIncoming;
        transition(asIncoming ? VmState.INCOMING : VmState.STARTING, asIncoming
                ? "waiting for the migration stream" : "QEMU is starting");
        return started;
    }

    private QmpClient connect(long gen) {
        return QmpClient.connect(files.paths().qmpSocket(), vmName(), e -> onEvent(gen, e), () -> onMonitorClosed(gen));
    }

    private void handleStartFailure(long gen, AgentException e) {
        synchronized (lock) {
            if (gen != generation) {
                return;
            }
            if (qmp != null) {
                qmp.close();
                qmp = null;
            }
            exitHandled = true;
            cause = StopCause.START_FAILED;
            pid = null;
            transition(VmState.STOPPED, e.getMessage());
        }
        host.onChange().run();
    }

    /** Connects to an existing QEMU after an agent restart; false when it is not (or no longer) ours. */
    public boolean adopt() {
        Optional<VmSpec> saved = files.readSpec();
        Optional<Long> savedPid = files.readPid();
        synchronized (lock) {
            spec = saved.orElse(null);
        }
        if (saved.isEmpty()) {
            return false;
        }
        if (savedPid.isPresent() && ProcessFacts.isQemuOf(savedPid.get(), vmId)) {
            long gen;
            synchronized (lock) {
                gen = ++generation;
                exitHandled = false;
                adopted = true;
                incoming = files.isIncoming();
                pid = savedPid.get();
                wrapperPid = ProcessFacts.parent(savedPid.get());
                startedAt = ProcessFacts.startTime(savedPid.get());
                transition(VmState.STARTING, "re-adopting running QEMU");
            }
            try {
                if (attach(gen, connect(gen), false)) {
                    LOG.warn("VM {}: re-adopted a QEMU whose opened files were never checked (the agent ended during"
                            + " its start); powering it off before its guest runs", vmId);
                    powerOff(StopCause.START_FAILED, "the agent restarted before this start was checked; start the"
                            + " VM again");
                } else {
                    files.readStopRequest().ifPresent(r -> resumeStop(gen, r));
                }
                ProcessHandle.of(savedPid.get()).ifPresent(h -> h.onExit().thenRun(() -> onProcessGone(gen)));
                LOG.info("VM {} re-adopted: QEMU pid {} is {}", vmId, savedPid.get(), status().state().json());
                return true;
            } catch (QmpException e) {
                LOG.warn("VM {}: QEMU pid {} runs but its monitor does not answer: {}", vmId, savedPid.get(),
                        e.getMessage());
                synchronized (lock) {
                    transition(VmState.RUNNING, "re-adopted, but QMP does not answer: " + e.getMessage());
                }
                ProcessHandle.of(savedPid.get()).ifPresent(h -> h.onExit().thenRun(() -> onProcessGone(gen)));
                return true;
            }
        }
        // No process: report how it ended, from the saved verdict or else the wrapper's exit status.
        Optional<VmStatus> verdict = files.readVerdict();
        if (verdict.isPresent()) {
            synchronized (lock) {
                VmStatus v = verdict.get();
                state = v.state();
                reason = v.reason();
                cause = v.cause();
                since = v.since();
                startedAt = v.startedAt();
                exitCode = v.exitCode();
                exitHandled = true;
            }
            return false;
        }
        synchronized (lock) {
            adopted = true;
            exitHandled = false;
            wrapperPid = null;
            generation++;
        }
        concludeExit(generation());
        return false;
    }

    private long generation() {
        synchronized (lock) {
            return generation;
        }
    }

    /**
     * Takes over a connected monitor and sets the state from QEMU's; true when a re-adopted QEMU never ran its
     * guest because the agent ended before its start was checked (the caller powers it off).
     */
    private boolean attach(long gen, QmpClient client, boolean fresh) {
        JsonNode status = client.execute("query-status", null);
        String migrating = fresh ? "none" : client.execute("query-migrate", null).path("status").asText("none");
        boolean activatedWhileAway = false;
        boolean neverReleased = false;
        synchronized (lock) {
            if (gen != generation || exitHandled) {
                client.close();
                return false;
            }
            qmp = client;
            if (pid == null) {
                pid = files.readPid().orElse(null);
            }
            String runState = status.path("status").asText();
            boolean running = status.path("running").asBoolean();
            if (!fresh) {
                migration = migrating;
            }
            if (stopRequest != null) {
                reason = "stopping; monitor connected";
            } else if (incoming && running) {
                // the manager's activation reached QEMU, but the agent ended before it could note it
                incoming = false;
                activatedWhileAway = true;
                transition(VmState.RUNNING, "re-adopted; the incoming migration was activated");
            } else if (incoming) {
                transition(VmState.INCOMING, fresh ? "waiting for the migration stream"
                        : "re-adopted; waiting for the migration to be activated (QEMU " + runState + ", migration "
                        + migrating + ")");
            } else if (outgoing(migrating, runState)) {
                beforeMigration = running || runState.equals("postmigrate") ? VmState.RUNNING : VmState.PAUSED;
                transition(VmState.MIGRATING, "re-adopted during a live migration (" + migrating + ")");
            } else if (!fresh && runState.equals("prelaunch")) {
                // the agent ended between QEMU's start and the check of its opened files: the guest never ran and
                // must not run unchecked; it is powered off (the manager starts it again, checked)
                neverReleased = true;
                transition(VmState.STOPPING, "re-adopted before its start was checked; powering off");
            } else if (running) {
                transition(VmState.RUNNING, fresh ? "started" : "re-adopted after agent restart");
            } else {
                transition(VmState.PAUSED, "QEMU run state: " + runState);
            }
        }
        if (activatedWhileAway) {
            files.markIncoming(false);
        }
        return neverReleased;
    }

    /** True when a re-adopted source QEMU is in the middle of a migration or waits for its hand-over. */
    private static boolean outgoing(String migrationStatus, String runState) {
        return switch (migrationStatus) {
            case "none", "failed", "cancelled" -> false;
            case "completed" -> runState.equals("postmigrate");
            default -> true;
        };
    }

    private void resumeStop(long gen, VmFiles.StopRequest request) {
        synchronized (lock) {
            if (gen != generation || exitHandled) {
                return;
            }
            stopRequest = request;
            transition(VmState.STOPPING, "stop requested before the agent restarted ("
                    + request.cause().json() + ")");
            armStopTimers(gen, request.deadline());
        }
    }

    /**
     * Presses the ACPI power button and powers off after {@code timeoutSeconds} (0: at once). QMP calls are
     * made outside the lock: the monitor's reader thread needs the lock to deliver events.
     */
    public VmStatus shutdown(int timeoutSeconds, StopCause requestedBy) {
        QmpClient client;
        long gen;
        String powerOffNow = null;
        synchronized (lock) {
            if (!state.hasProcess()) {
                return status();
            }
            if (timeoutSeconds <= 0) {
                powerOffNow = "powered off";
            } else if (state == VmState.PAUSED) {
                powerOffNow = "the VM was paused, so it cannot react to ACPI; powered off";
            }
        }
        if (powerOffNow != null) {
            return powerOff(requestedBy, powerOffNow);
        }
        synchronized (lock) {
            if (!state.hasProcess()) {
                return status();
            }
            Instant deadline = Instant.now().plusSeconds(timeoutSeconds);
            if (stopRequest != null && !stopRequest.deadline().isAfter(deadline)) {
                return status();
            }
            setStopRequest(new VmFiles.StopRequest(requestedBy, deadline));
            transition(VmState.STOPPING, "ACPI shutdown requested; power-off after " + timeoutSeconds + " s");
            gen = generation;
            armStopTimers(gen, deadline);
            client = qmp;
        }
        host.onChange().run();
        if (client != null) {
            try {
                client.execute("system_powerdown", null);
            } catch (QmpException e) {
                LOG.warn("VM {}: system_powerdown failed ({}); powering off", vmId, e.getMessage());
                return powerOff(requestedBy, "ACPI shutdown could not be sent: " + e.getMessage());
            }
        }
        return status();
    }

    /** Stops QEMU now: QMP quit, then SIGTERM and SIGKILL if it does not exit. */
    public VmStatus powerOff(StopCause requestedBy, String why) {
        QmpClient client;
        Long target;
        long gen;
        synchronized (lock) {
            if (!state.hasProcess()) {
                return status();
            }
            setStopRequest(new VmFiles.StopRequest(requestedBy, Instant.now()));
            stopDetail = why;
            transition(VmState.STOPPING, why);
            client = qmp;
            target = pid;
            gen = generation;
        }
        host.onChange().run();
        boolean quitSent = false;
        if (client != null && client.isOpen()) {
            try {
                client.execute("quit", null);
                quitSent = true;
            } catch (QmpException e) {
                LOG.warn("VM {}: quit failed ({}); sending signals", vmId, e.getMessage());
            }
        }
        if (!quitSent && target != null) {
            terminate(gen, target);
        } else if (target != null) {
            host.scheduler().schedule(() -> terminate(gen, target), KILL_GRACE.toSeconds(), TimeUnit.SECONDS);
        }
        return status();
    }

    private void terminate(long gen, long target) {
        synchronized (lock) {
            if (gen != generation || exitHandled) {
                return;
            }
            killedByAgent = true;
        }
        ProcessHandle.of(target).ifPresent(h -> {
            h.destroy();
            host.scheduler().schedule(() -> {
                if (h.isAlive()) {
                    LOG.warn("VM {}: QEMU pid {} ignored SIGTERM; sending SIGKILL", vmId, target);
                    h.destroyForcibly();
                }
            }, KILL_GRACE.toSeconds(), TimeUnit.SECONDS);
        });
    }

    /** Hard reset (like the reset button); the guest boots again. */
    public VmStatus reset() {
        monitor("reset").execute("system_reset", null);
        return status();
    }

    public VmStatus pause() {
        monitor("pause").execute("stop", null);
        synchronized (lock) {
            if (state == VmState.RUNNING) {
                transition(VmState.PAUSED, "paused on request");
            }
        }
        host.onChange().run();
        return status();
    }

    public VmStatus resume() {
        monitor("resume").execute("cont", null);
        synchronized (lock) {
            if (state == VmState.PAUSED) {
                transition(VmState.RUNNING, "resumed on request");
            }
        }
        host.onChange().run();
        return status();
    }

    // ------------------------------------------------------------------ live migration
    //
    // Destination: startIncoming (QEMU paused with -S, waiting) -> activate (cont: the guest runs here)
    //              or abortIncoming (QEMU ends; the guest never ran here).
    // Source:      migrate -> migrationStatus (progress, long-poll) -> finishMigration(handed-over: QEMU ends)
    //              or finishMigration(resume) / cancelMigration: the guest goes on here.
    // The manager decides the hand-over; nothing here lets a guest run on two hosts.

    private static final Duration MIGRATION_CANCEL_WAIT = Duration.ofSeconds(15);
    /** How long a status query waits for QEMU to compute a completed migration's figures (see figuresReady). */
    private static final Duration FIGURES_WAIT = Duration.ofSeconds(2);

    /**
     * Starts QEMU as the paused destination of a live migration and opens its listening socket on the first
     * free port of {@code portFrom..portTo} at {@code address}.
     */
    public IncomingResponse startIncoming(VmSpec newSpec, String sourceHostId, String address, int portFrom,
                                          int portTo) {
        MigrationTls.checkSourceHost(sourceHostId); // before anything starts
        refuseIfRunning();
        List<ImageChain> chains = launcher.checkDisks(newSpec); // reads the storage: not under the lock
        QemuLauncher.Started started;
        long gen;
        synchronized (lock) {
            started = begin(newSpec, true, chains);
            gen = generation;
        }
        Process process = started.process();
        files.markIncoming(true);
        process.onExit().thenRun(() -> onProcessGone(gen));
        try {
            QmpClient client = launcher.awaitMonitor(process, socket -> connect(gen));
            launcher.release(started, client, false);
            attach(gen, client, true);
            // late-block-activate: the destination takes the disks' write locks only when it is activated, so
            // until then the source can always be resumed (QEMU 7.2 verified; see docs/decisions.md). No
            // return-path: the source would wait for the destination to load the device state while the guest
            // is paused; the manager checks the destination's own status before activating it instead.
            client.execute("migrate-set-capabilities", capabilities(Map.of("events", true,
                    "late-block-activate", true)));
            host.migrationTls().serve(client, files.directory(), sourceHostId);
            String uri = listen(client, address, portFrom, portTo);
            synchronized (lock) {
                reason = "waiting for the migration stream on " + uri;
            }
            host.onChange().run();
            LOG.info("VM {}: waiting for an incoming migration on {}", vmId, uri);
            return new IncomingResponse(uri, status());
        } catch (AgentException | QmpException e) {
            AgentException failure = e instanceof AgentException a ? a
                    : new AgentException(500, "incoming-failed", "cannot prepare the migration destination: "
                    + e.getMessage(), e);
            ProcessHandle.of(process.pid()).ifPresent(ProcessHandle::destroyForcibly);
            Long qemuPid = pidSnapshot().orElse(null);
            if (qemuPid != null) {
                ProcessHandle.of(qemuPid).ifPresent(ProcessHandle::destroyForcibly);
            }
            handleStartFailure(gen, failure);
            Taps.remove(newSpec);
            files.markIncoming(false);
            throw failure;
        }
    }

    private String listen(QmpClient client, String address, int from, int to) {
        String last = "no port in the range";
        for (int port = from; port <= to; port++) {
            String uri = new MigrationUri(org.carevisor.protocol.HostAddress.parse(address), port).toString();
            try {
                client.execute("migrate-incoming", Map.of("uri", uri));
                return uri;
            } catch (QmpException e) {
                last = e.getMessage();
                if (!last.contains("in use")) {
                    throw new AgentException(500, "incoming-failed", "QEMU cannot listen on " + uri + ": " + last, e);
                }
            }
        }
        throw AgentException.conflict("no-migration-port", "every migration port " + from + "-" + to + " on "
                + address + " is in use (" + last + "); widen --migration-ports");
    }

    /**
     * Lets the guest run here once the whole migration stream has arrived ({@code run}; otherwise it stays
     * paused, as it was on the source). This {@code cont} is the point of no return of a migration: from
     * here on the guest lives on this host. Refused, with the guest never having run here, when the stream
     * did not arrive completely.
     */
    public VmStatus activate(ActivateRequest request) throws InterruptedException {
        long deadline = System.nanoTime() + Math.max(0, request.waitMs()) * 1_000_000L;
        QmpClient client;
        while (true) {
            synchronized (lock) {
                if (!incoming) {
                    if (state == VmState.RUNNING || state == VmState.PAUSED) {
                        return status(); // activated before (a repeated request)
                    }
                    throw AgentException.conflict("incoming-failed", "VM " + vmId + " is " + state.json()
                            + " on this host, not waiting for a migration: " + reason);
                }
                client = qmp;
            }
            String status;
            try {
                status = client == null ? "gone" : client.execute("query-migrate", null).path("status").asText("none");
            } catch (QmpException e) {
                status = "gone"; // QEMU ends by itself when the incoming stream fails
            }
            if (status.equals("gone")) {
                throw AgentException.conflict("incoming-failed", "the destination QEMU is no longer running ("
                        + files.qemuLogTail(2) + "); the guest never ran on this host");
            }
            if (status.equals("completed")) {
                break;
            }
            if (status.equals("failed") || status.equals("cancelled")) {
                throw AgentException.conflict("incoming-failed", "the migration stream did not arrive completely"
                        + " (QEMU: " + status + "); the guest never ran on this host");
            }
            if (System.nanoTime() > deadline) {
                throw new AgentException(504, "incoming-incomplete", "the migration stream is still " + status
                        + " after " + request.waitMs() + " ms; the guest has not run on this host");
            }
            synchronized (lock) {
                lock.wait(20);
            }
        }
        if (request.run()) {
            client.execute("cont", null); // point of no return: the guest runs on this host from now on
        }
        synchronized (lock) {
            incoming = false;
            transition(request.run() ? VmState.RUNNING : VmState.PAUSED, "migrated to this host");
        }
        files.markIncoming(false);
        host.onChange().run();
        return status();
    }

    /** Ends a destination QEMU whose guest never ran here (the migration was abandoned). */
    public VmStatus abortIncoming() {
        synchronized (lock) {
            if (!incoming) {
                if (!state.hasProcess()) {
                    return status();
                }
                throw AgentException.conflict("not-incoming", "VM " + vmId + " is " + state.json()
                        + " on this host; the migration was handed over, so it cannot be abandoned here");
            }
        }
        return powerOff(StopCause.MIGRATION_ABORTED, "the incoming migration was abandoned");
    }

    /**
     * Starts sending the running (or paused) VM to the destination at {@code request.uri()}, which must be
     * {@code tcp:<address>:<port>} ({@link MigrationUri}): any other URI (exec:, file:, unix:, fd:, options) is
     * refused before QEMU sees it. The stream goes over mutual TLS to a certificate named {@code tlsHostname}
     * ({@link MigrationTls}).
     */
    public MigrationStatus migrate(MigrationRequest request) {
        String uri;
        try {
            uri = MigrationUri.parse(request.uri()).toString();
            MigrationTls.checkHostname(request.tlsHostname());
        } catch (IllegalArgumentException e) {
            LOG.warn("VM {}: refused a migration request: {}", vmId, e.getMessage());
            throw AgentException.badRequest("migration-uri-invalid", "refused: " + e.getMessage());
        }
        QmpClient client = monitor("migrate");
        synchronized (lock) {
            if (state != VmState.RUNNING && state != VmState.PAUSED) {
                throw AgentException.conflict("vm-not-running", "only a running or paused VM can be migrated; VM "
                        + vmId + " is " + state.json());
            }
            if (jobInProgress != null) {
                throw AgentException.conflict("busy", "VM " + vmId + " is busy " + jobInProgress);
            }
            beforeMigration = state;
            migration = "setup";
            transition(VmState.MIGRATING, "live migration to " + uri);
        }
        host.onChange().run();
        try {
            client.execute("migrate-set-capabilities", capabilities(Map.of("events", true,
                    "auto-converge", request.autoConverge())));
            Map<String, Object> parameters = new java.util.HashMap<>();
            if (request.maxBandwidthBytes() > 0) {
                parameters.put("max-bandwidth", request.maxBandwidthBytes());
            }
            if (request.downtimeLimitMs() > 0) {
                parameters.put("downtime-limit", request.downtimeLimitMs());
            }
            if (!parameters.isEmpty()) {
                client.execute("migrate-set-parameters", parameters);
            }
            host.migrationTls().connect(client, files.directory(), request.tlsHostname());
            client.execute("migrate", Map.of("uri", uri));
        } catch (AgentException | QmpException e) {
            synchronized (lock) {
                migration = "failed";
                if (state == VmState.MIGRATING) {
                    transition(beforeMigration, "the migration could not start: " + e.getMessage());
                }
            }
            host.onChange().run();
            throw e instanceof AgentException a ? a
                    : AgentException.conflict("migration-failed", "the migration could not start: " + e.getMessage());
        }
        LOG.info("VM {}: migrating to {}", vmId, uri);
        return migrationStatus(0, null);
    }

    /**
     * The migration's progress; with {@code waitMs} and {@code after}, waits until the status differs from
     * {@code after} (or the time is up) first.
     */
    public MigrationStatus migrationStatus(long waitMs, String after) {
        if (waitMs > 0 && after != null) {
            long deadline = System.nanoTime() + Math.min(waitMs, 30_000) * 1_000_000L;
            synchronized (lock) {
                while (migration.equals(after) && state.hasProcess()) {
                    long left = (deadline - System.nanoTime()) / 1_000_000L;
                    if (left <= 0) {
                        break;
                    }
                    try {
                        lock.wait(left);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
            }
        }
        QmpClient client;
        String last;
        synchronized (lock) {
            client = state.hasProcess() ? qmp : null;
            last = migration;
        }
        if (client == null || !client.isOpen()) {
            return new MigrationStatus(vmId, last, 0, 0, 0, 0, 0, null, null, null, null, 0,
                    "QEMU is not running on this host", status());
        }
        JsonNode q = client.execute("query-migrate", null);
        long settle = System.nanoTime() + FIGURES_WAIT.toNanos();
        while (!MigrationInfo.figuresReady(q) && System.nanoTime() < settle) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            q = client.execute("query-migrate", null);
        }
        return MigrationInfo.from(vmId, q, status());
    }

    /** Asks QEMU to cancel the running migration; the guest goes on here. */
    public MigrationStatus cancelMigration() {
        monitor("cancel the migration of").execute("migrate_cancel", null);
        return migrationStatus(0, null);
    }

    /**
     * Ends the migration on this (source) host: {@code handed-over} ends QEMU here because the guest now runs
     * on the destination; {@code resume} cancels a migration still in progress and lets the guest go on here.
     */
    public VmStatus finishMigration(MigrationFinish finish) throws InterruptedException {
        switch (finish.outcome()) {
            case MigrationFinish.HANDED_OVER -> {
                synchronized (lock) {
                    if (!state.hasProcess()) {
                        return status(); // ended before (a repeated request)
                    }
                    if (state != VmState.MIGRATING || !migration.equals("completed")) {
                        throw AgentException.conflict("migration-not-completed", "VM " + vmId + " is " + state.json()
                                + " with migration status " + migration + "; only a completed migration can be"
                                + " handed over");
                    }
                }
                return powerOff(StopCause.MIGRATED, "migrated to another host");
            }
            case MigrationFinish.RESUME -> {
                return resumeAfterMigration();
            }
            default -> throw AgentException.badRequest("invalid-outcome", "outcome must be "
                    + MigrationFinish.HANDED_OVER + " or " + MigrationFinish.RESUME + ", not " + finish.outcome());
        }
    }

    private VmStatus resumeAfterMigration() throws InterruptedException {
        QmpClient client;
        synchronized (lock) {
            if (state != VmState.MIGRATING) {
                return status();
            }
            client = qmp;
        }
        if (client == null || !client.isOpen()) {
            throw new AgentException(503, "monitor-unavailable", "cannot resume VM " + vmId
                    + ": its QMP monitor is not connected");
        }
        String status = client.execute("query-migrate", null).path("status").asText("none");
        if (!status.equals("completed") && !status.equals("failed") && !status.equals("cancelled")
                && !status.equals("none")) {
            client.execute("migrate_cancel", null);
            long deadline = System.nanoTime() + MIGRATION_CANCEL_WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                status = client.execute("query-migrate", null).path("status").asText("none");
                if (status.equals("failed") || status.equals("cancelled") || status.equals("completed")) {
                    break;
                }
                Thread.sleep(20);
            }
        }
        settle(client, "the migration did not hand over; the VM goes on on this host");
        return status();
    }

    /** After QEMU gave up a migration by itself (failed, cancelled): back to running or paused. */
    private void settleAfterFailedMigration(long gen) {
        QmpClient client;
        synchronized (lock) {
            if (gen != generation || state != VmState.MIGRATING) {
                return;
            }
            client = qmp;
        }
        try {
            settle(client, "the migration " + migration + "; the VM goes on on this host");
        } catch (QmpException e) {
            LOG.warn("VM {}: cannot read the run state after a failed migration: {}", vmId, e.getMessage());
        }
    }

    /**
     * Returns the source to the state it had before the migration; a guest QEMU left stopped (a migration that
     * completed but was not handed over) is continued when it was running before.
     */
    private void settle(QmpClient client, String why) {
        JsonNode run = client.execute("query-status", null);
        boolean running = run.path("running").asBoolean();
        VmState target;
        synchronized (lock) {
            target = beforeMigration;
        }
        if (!running && target == VmState.RUNNING) {
            client.execute("cont", null);
            running = true;
        }
        synchronized (lock) {
            if (state == VmState.MIGRATING) {
                transition(running ? VmState.RUNNING : VmState.PAUSED, why);
            }
        }
        host.onChange().run();
    }

    private static Map<String, Object> capabilities(Map<String, Boolean> states) {
        List<Map<String, Object>> list = new ArrayList<>();
        states.forEach((name, on) -> list.add(Map.of("capability", name, "state", on)));
        return Map.of("capabilities", list);
    }

    /** How long a snapshot job may take: memory is written to or read from the VM's first disk. */
    private static final Duration SNAPSHOT_LIMIT = Duration.ofMinutes(30);

    /**
     * Takes an internal snapshot of the running VM: with memory ({@code snapshot-save}: vCPUs pause while
     * memory and disks are saved) or disk-only (one atomic transaction over all disks, crash-consistent).
     */
    public SnapshotResult snapshot(SnapshotRequest request) {
        List<String> disks = snapshotDisks(request.tag(), "snapshot");
        if (request.memory()) {
            return snapshotJob("snapshot-save", Map.of("tag", request.tag(), "vmstate", disks.get(0),
                    "devices", disks), request.tag(), "saving snapshot " + request.shown());
        }
        List<Map<String, Object>> actions = new ArrayList<>();
        for (String disk : disks) {
            actions.add(Map.of("type", "blockdev-snapshot-internal-sync",
                    "data", Map.of("device", disk, "name", request.tag())));
        }
        long t0 = System.nanoTime();
        monitor("snapshot").execute("transaction", Map.of("actions", actions));
        return new SnapshotResult(request.tag(), (System.nanoTime() - t0) / 1_000_000, 0, status());
    }

    /** Reverts the running VM to a snapshot with memory; it keeps running from the snapshot's moment. */
    public SnapshotResult loadSnapshot(SnapshotRequest request) {
        List<String> disks = snapshotDisks(request.tag(), "revert");
        return snapshotJob("snapshot-load", Map.of("tag", request.tag(), "vmstate", disks.get(0), "devices", disks),
                request.tag(), "reverting to snapshot " + request.shown());
    }

    /** Deletes an internal snapshot from the disks of the running VM. */
    public SnapshotResult deleteSnapshot(SnapshotRequest request) {
        List<String> disks = snapshotDisks(request.tag(), "delete a snapshot of");
        return snapshotJob("snapshot-delete", Map.of("tag", request.tag(), "devices", disks), request.tag(),
                "deleting snapshot " + request.tag());
    }

    /** The writable disks' node names; every one must be qcow2 (raw images cannot hold snapshots). */
    private List<String> snapshotDisks(String tag, String what) {
        org.carevisor.qemu.QemuCommandLine.checkSnapshotTag(tag);
        List<String> disks = new ArrayList<>();
        synchronized (lock) {
            if (spec == null || !state.hasProcess() || state == VmState.STOPPING) {
                throw AgentException.conflict("vm-not-running", "cannot " + what + " VM " + vmId + ": it is "
                        + state.json());
            }
            for (org.carevisor.protocol.DiskSpec d : spec.disks()) {
                if (d.readOnly()) {
                    continue;
                }
                if (!d.format().equals("qcow2")) {
                    throw AgentException.conflict("snapshot-unsupported", "disk " + d.id() + " of VM " + vmId
                            + " is " + d.format() + "; snapshots need qcow2 disks");
                }
                disks.add(d.id());
            }
        }
        if (disks.isEmpty()) {
            throw AgentException.conflict("snapshot-unsupported", "VM " + vmId + " has no writable disk to snapshot");
        }
        return disks;
    }

    private SnapshotResult snapshotJob(String command, Map<String, Object> args, String tag, String what) {
        QmpClient client = monitor(what);
        synchronized (lock) {
            if (jobInProgress != null) {
                throw AgentException.conflict("busy", "VM " + vmId + " is busy " + jobInProgress);
            }
            jobInProgress = what;
            jobStoppedAt = null;
            jobResumedAt = null;
            reason = what;
        }
        host.onChange().run();
        long t0 = System.nanoTime();
        try {
            client.runJob(command, args, "carevisor-" + tag.substring(0, Math.min(tag.length(), 8)) + "-"
                    + System.nanoTime() % 100000, SNAPSHOT_LIMIT);
        } catch (QmpException e) {
            throw new AgentException(500, "snapshot-failed", what + " failed: " + e.getMessage(), e);
        } finally {
            synchronized (lock) {
                jobInProgress = null;
            }
        }
        long duration = (System.nanoTime() - t0) / 1_000_000;
        JsonNode run = client.execute("query-status", null);
        long paused;
        synchronized (lock) {
            paused = jobStoppedAt == null ? 0 : Duration.between(jobStoppedAt,
                    jobResumedAt == null ? Instant.now() : jobResumedAt).toMillis();
            if (state.hasProcess() && state != VmState.STOPPING) {
                transition(run.path("running").asBoolean() ? VmState.RUNNING : VmState.PAUSED, what + ": done");
            }
        }
        host.onChange().run();
        return new SnapshotResult(tag, duration, paused, status());
    }

    private QmpClient monitor(String operation) {
        synchronized (lock) {
            if (!state.hasProcess() || state == VmState.STOPPING) {
                throw AgentException.conflict("vm-not-running", "cannot " + operation + " VM " + vmId
                        + ": it is " + state.json());
            }
            if (qmp == null || !qmp.isOpen()) {
                throw new AgentException(503, "monitor-unavailable", "cannot " + operation + " VM " + vmId
                        + ": its QMP monitor is not connected");
            }
            return qmp;
        }
    }

    private void onEvent(long gen, QmpEvent event) {
        boolean changed = false;
        synchronized (lock) {
            if (gen != generation) {
                return;
            }
            switch (event.name()) {
                case "SHUTDOWN" -> {
                    guestShutdown = event.data().path("guest").asBoolean(false);
                    shutdownReason = event.data().path("reason").asText(null);
                    transition(VmState.STOPPING, "QEMU is shutting down (" + shutdownReason + ")");
                    changed = true;
                }
                case "MIGRATION" -> {
                    migration = event.data().path("status").asText("none");
                    lock.notifyAll();
                    if (state == VmState.MIGRATING && (migration.equals("failed") || migration.equals("cancelled"))) {
                        host.scheduler().execute(() -> settleAfterFailedMigration(gen));
                    }
                    changed = true;
                }
                case "STOP" -> {
                    if (state == VmState.MIGRATING || state == VmState.INCOMING) {
                        reason = state == VmState.MIGRATING ? "live migration: vCPUs stopped for the final copy"
                                : reason;
                    } else if (jobInProgress != null) {
                        jobStoppedAt = event.timestamp();
                    } else if (state == VmState.RUNNING) {
                        transition(VmState.PAUSED, noSpace.isPaused() ? noSpace.why() : "vCPUs stopped");
                        changed = true;
                    }
                }
                case "RESUME" -> {
                    if (state == VmState.MIGRATING || state == VmState.INCOMING) {
                        LOG.debug("VM {}: RESUME during migration", vmId);
                    } else if (jobInProgress != null) {
                        jobResumedAt = event.timestamp();
                    } else if (state == VmState.PAUSED || state == VmState.STARTING) {
                        transition(VmState.RUNNING, "vCPUs running");
                        changed = true;
                    }
                }
                case "RESET" -> reason = "guest reset at " + event.timestamp();
                case "GUEST_PANICKED" -> {
                    reason = "guest kernel panicked at " + event.timestamp();
                    changed = true;
                }
                case "BLOCK_IO_ERROR" -> {
                    String node = event.data().path("node-name").asText("?");
                    if (event.data().path("nospace").asBoolean(false)
                            && event.data().path("action").asText().equals("stop")) {
                        noSpace.paused(event.timestamp(), node);
                        reason = noSpace.why();
                    } else {
                        reason = "disk I/O error: " + event.data().path("reason").asText("unknown") + " on " + node;
                    }
                    changed = true;
                }
                default -> LOG.debug("VM {}: event {}", vmId, event.name());
            }
        }
        if (changed) {
            host.onChange().run();
        }
    }

    private void onMonitorClosed(long gen) {
        host.scheduler().execute(() -> concludeExit(gen));
    }

    private void onProcessGone(long gen) {
        host.scheduler().execute(() -> concludeExit(gen));
    }

    /**
     * Classifies the exit once per generation, after waiting briefly for the wrapper's exit status (only
     * while the wrapper still runs: a killed wrapper writes nothing).
     */
    private void concludeExit(long gen) {
        Long wrapper;
        synchronized (lock) {
            if (gen != generation || exitHandled) {
                return;
            }
            wrapper = wrapperPid;
        }
        Optional<VmFiles.ExitStatus> exit = files.readExitStatus();
        long deadline = System.nanoTime() + EXIT_STATUS_WAIT.toNanos();
        while (exit.isEmpty() && System.nanoTime() < deadline && ProcessFacts.alive(wrapper)) {
            Optional<Long> p = pidSnapshot();
            if (p.isPresent() && ProcessFacts.alive(p.get())) {
                // QEMU still runs: only the monitor connection broke. Leave the state alone.
                if (!files.paths().qmpSocket().toFile().exists()) {
                    sleep(100);
                    continue;
                }
                LOG.warn("VM {}: monitor connection lost while QEMU pid {} still runs", vmId, p.get());
                return;
            }
            sleep(20);
            exit = files.readExitStatus();
        }
        if (exit.isEmpty()) {
            exit = files.readExitStatus();
        }
        String selfFence = selfFence();
        ExitClassifier.Verdict verdict;
        synchronized (lock) {
            if (gen != generation || exitHandled) {
                return;
            }
            exitHandled = true;
            exitCode = exit.map(VmFiles.ExitStatus::code).orElse(null);
            Integer effective = killedByAgent && exitCode != null && exitCode > 128 ? Integer.valueOf(0) : exitCode;
            VmFiles.StopRequest request = stopRequest != null ? stopRequest : files.readStopRequest().orElse(null);
            StopCause requested = incoming ? StopCause.MIGRATION_ABORTED : request == null ? null : request.cause();
            verdict = ExitClassifier.classify(new ExitClassifier.Facts(effective, requested, stopDetail,
                    guestShutdown, shutdownReason, files.qemuLogTail(2), adopted && guestShutdown == null, selfFence));
            incoming = false;
            lock.notifyAll();
            if (qmp != null) {
                qmp.close();
                qmp = null;
            }
            stopTimers.cancel();
            stopRequest = null;
            stopDetail = null;
            pid = null;
            cause = verdict.cause();
            transition(verdict.state(), verdict.reason());
            since = exit.map(VmFiles.ExitStatus::at).orElse(since);
        }
        files.writeVerdict(status());
        files.markIncoming(false);
        Taps.remove(specSnapshot());
        LOG.info("VM {}: QEMU ended: {} ({})", vmId, verdict.state().json(), verdict.reason());
        host.onChange().run();
    }

    /** The reason when the QEMU process that just ended was killed on purpose by the HA watchdog, else null. */
    private String selfFence() {
        Long qemuPid;
        Instant began;
        synchronized (lock) {
            qemuPid = pid;
            began = startedAt;
        }
        if (qemuPid == null) {
            qemuPid = files.readPid().orElse(null);
        }
        if (began == null) {
            began = files.pidWrittenAt().orElse(null); // QEMU writes its pid file as it starts
        }
        return qemuPid == null ? null : host.kills().reason(vmId, qemuPid, began).orElse(null);
    }

    /**
     * Periodic check, independent of QMP events: concludes an exit nobody reported and reconnects a
     * monitor connection that broke while QEMU still runs.
     */
    public void watchdog() {
        long gen;
        Long target;
        boolean reconnect;
        synchronized (lock) {
            if (exitHandled || !state.hasProcess() || state == VmState.STARTING) {
                return;
            }
            gen = generation;
            target = pid;
            reconnect = qmp == null || !qmp.isOpen();
        }
        if (!ProcessFacts.alive(target)) {
            concludeExit(gen);
        } else if (reconnect) {
            try {
                attach(gen, connect(gen), false);
                LOG.info("VM {}: monitor reconnected", vmId);
            } catch (QmpException e) {
                LOG.debug("VM {}: monitor reconnect failed: {}", vmId, e.getMessage());
            }
        } else {
            resumeAfterNoSpace(gen);
        }
    }

    /** Resumes a VM that QEMU paused for a full storage once its disks' file systems have room ({@link NoSpaceResume}). */
    private void resumeAfterNoSpace(long gen) {
        QmpClient client;
        List<java.nio.file.Path> disks = new ArrayList<>();
        synchronized (lock) {
            if (gen != generation || state != VmState.PAUSED || jobInProgress != null || !noSpace.due(Instant.now())) {
                return;
            }
            client = qmp;
            for (var d : spec.disks()) {
                if (!d.readOnly()) {
                    disks.add(host.qemu().resolveDisk(d.path()));
                }
            }
        }
        if (client != null && client.isOpen() && NoSpaceResume.roomOn(disks)) {
            try {
                client.execute("cont", null);
                LOG.info("VM {}: resumed after a pause for lack of storage space (space is free again)", vmId);
            } catch (QmpException e) {
                LOG.warn("VM {}: resume after the storage was full failed: {}", vmId, e.getMessage());
            }
        }
    }

    private VmSpec specSnapshot() {
        synchronized (lock) {
            return spec;
        }
    }

    private Optional<Long> pidSnapshot() {
        synchronized (lock) {
            return Optional.ofNullable(pid);
        }
    }

    private void setStopRequest(VmFiles.StopRequest request) {
        stopRequest = request;
        try {
            files.writeStopRequest(request);
        } catch (IOException e) {
            LOG.warn("VM {}: cannot persist stop request: {}", vmId, e.getMessage());
        }
    }

    /** Presses the power button again every few seconds and powers off at the deadline, while the stop lasts. */
    private void armStopTimers(long gen, Instant deadline) {
        stopTimers.arm(deadline, () -> {
            QmpClient client;
            synchronized (lock) {
                if (gen != generation || exitHandled || stopRequest == null || state != VmState.STOPPING) {
                    return;
                }
                client = qmp;
            }
            if (client != null && client.isOpen()) {
                try {
                    client.execute("system_powerdown", null);
                } catch (QmpException e) {
                    LOG.debug("VM {}: repeated system_powerdown failed: {}", vmId, e.getMessage());
                }
            }
        }, () -> {
            StopCause requestedBy;
            synchronized (lock) {
                if (gen != generation || exitHandled || stopRequest == null) {
                    return;
                }
                requestedBy = stopRequest.cause();
            }
            LOG.info("VM {}: guest did not shut down in time; powering off", vmId);
            powerOff(requestedBy, "the guest did not shut down before the deadline; powered off");
        });
    }

    private void transition(VmState next, String why) {
        if (next != state) {
            since = Instant.now();
        }
        if (next != VmState.PAUSED) {
            noSpace.clear();
        }
        state = next;
        reason = why;
    }

    private String vmName() {
        synchronized (lock) {
            return spec == null ? vmId : spec.name();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
