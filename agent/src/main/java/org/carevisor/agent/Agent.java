package org.carevisor.agent;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.carevisor.agent.api.AgentApi;
import org.carevisor.agent.ha.HaDir;
import org.carevisor.agent.ha.HaService;
import org.carevisor.agent.ha.SelfFenceLog;
import org.carevisor.agent.host.AcceleratorChoice;
import org.carevisor.agent.host.HostIdentity;
import org.carevisor.agent.host.HostInventoryCollector;
import org.carevisor.agent.report.ManagerReporter;
import org.carevisor.agent.report.ReportBuilder;
import org.carevisor.agent.storage.SpaceGauge;
import org.carevisor.agent.storage.StorageService;
import org.carevisor.agent.vm.MigrationTls;
import org.carevisor.agent.vm.VmHost;
import org.carevisor.agent.vm.VmRegistry;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import org.carevisor.pki.Tls;
import org.carevisor.protocol.HaTimings;
import org.carevisor.qemu.AcceleratorProbe;
import org.carevisor.qemu.ProcessRunner;
import org.carevisor.qemu.QemuHostConfig;
import org.carevisor.qemu.QemuImg;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running host agent: its API server, VM registry, storage, reporter and HA service. Closing the agent
 * stops the agent only; QEMU processes keep running and are re-adopted by the next agent on this state
 * directory, and the HA watchdog keeps the storage lease meanwhile ({@link #close()}). Tests that must leave
 * no process behind stop the watchdog too ({@link #closeAndStopWatchdog()}) or start the agent with
 * {@code --ha-watchdog false}.
 */
public final class Agent implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Agent.class);
    static final String WRAPPER = """
            #!/bin/sh
            # Written by the Carevisor agent: runs QEMU and records its exit status in the file named by $1,
            # so the agent learns how QEMU ended even when the agent was not running at that moment.
            status_file=$1
            shift
            "$@"
            rc=$?
            printf '%s %s\\n' "$rc" "$(date +%s)" > "$status_file.tmp" && mv -f "$status_file.tmp" "$status_file"
            exit "$rc"
            """;

    private final HttpsServer server;
    private final ScheduledExecutorService scheduler;
    private final ManagerReporter reporter;
    private final String hostId;
    private final String endpoint;
    private final VmRegistry vms;
    private final HostInventoryCollector inventory;
    private final HaService ha;
    private final SpaceGauge space;
    private final AtomicBoolean stopped = new AtomicBoolean();

    private Agent(HttpsServer server, ScheduledExecutorService scheduler, ManagerReporter reporter, String hostId,
                  String endpoint, VmRegistry vms, HostInventoryCollector inventory, HaService ha,
                  SpaceGauge space) {
        this.space = space;
        this.server = server;
        this.scheduler = scheduler;
        this.reporter = reporter;
        this.hostId = hostId;
        this.endpoint = endpoint;
        this.vms = vms;
        this.inventory = inventory;
        this.ha = ha;
    }

    /** Starts an agent: re-adopts running VMs, serves the API and begins reporting. */
    public static Agent start(AgentConfig config) throws IOException {
        Files.createDirectories(config.stateDir());
        String qemuVersion = qemuVersion(config.qemuBinary());
        AcceleratorProbe.Result accel = AcceleratorChoice.choose(config.accelerator(), config.qemuBinary(),
                qemuVersion, config.stateDir());
        List<String> warnings = new ArrayList<>();
        if (!accel.kvm()) {
            warnings.add("no hardware acceleration: " + accel.detail());
        }
        LOG.info("accelerator {}: {}", accel.accelerator(), accel.detail());

        Path wrapper = config.stateDir().resolve("bin/qemu-wrapper.sh");
        Files.createDirectories(wrapper.getParent());
        Files.writeString(wrapper, WRAPPER, StandardCharsets.UTF_8);

        QemuImg qemuImg = new QemuImg(config.qemuImgBinary());
        StorageService storage = new StorageService(config.storageDir(), config.localStorageDir(), qemuImg);
        ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(2,
                Thread.ofPlatform().daemon().name("agent-timer-", 0).factory());
        AtomicReference<ManagerReporter> reporterRef = new AtomicReference<>();
        AtomicReference<HaService> haRef = new AtomicReference<>();
        Runnable onChange = () -> {
            ManagerReporter r = reporterRef.get();
            if (r != null) {
                r.kick();
            }
            HaService h = haRef.get();
            if (h != null) {
                h.vmsChanged();
            }
        };
        QemuHostConfig qemu = new QemuHostConfig(config.qemuBinary(), accel.accelerator(), storage.root(),
                config.forwardAddress(), config.sandbox(), storage.localRoot());
        VmRegistry vms = new VmRegistry(config.stateDir(), new VmHost(qemu, wrapper, scheduler, onChange,
                new SelfFenceLog(new HaDir(config.stateDir())), new MigrationTls(config.tlsDir())));
        int adopted = vms.adoptAll();
        scheduler.scheduleWithFixedDelay(() -> {
            try {
                vms.boundConsoleLogs();
            } catch (Throwable t) {
                LOG.warn("bounding console logs failed (tried again in a second): {}", t.toString());
            }
        }, 1, 1, java.util.concurrent.TimeUnit.SECONDS);

        HttpsServer server = HttpsServer.create(new InetSocketAddress(config.listenAddress(), config.listenPort()), 64);
        String endpoint = new org.carevisor.protocol.AgentEndpoint(org.carevisor.protocol.HostAddress.parse(
                config.advertise()), server.getAddress().getPort()).toString();
        Tls.Identity identity;
        String hostId;
        try {
            identity = Enrollment.identity(config, endpoint);
            hostId = HostIdentity.of(config.stateDir(), identity);
        } catch (RuntimeException | IOException e) {
            server.stop(0);
            throw e;
        }
        SSLContext tls = Tls.context(identity);
        server.setHttpsConfigurator(new HttpsConfigurator(tls) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = getSSLContext().getDefaultSSLParameters();
                p.setNeedClientAuth(true);
                p.setProtocols(new String[] {"TLSv1.3"});
                params.setSSLParameters(p);
            }
        });
        HaService ha = new HaService(new HaService.Settings(config.stateDir(), storage.root(), hostId, endpoint,
                config.haWatchdog(), HaTimings.SELF_FENCE, identity.key(), config.haKeeperTime()), vms);
        haRef.set(ha);
        // the reports take the storage's size from a gauge of its own: a hanging storage must not stop them
        SpaceGauge space = new SpaceGauge(storage.root(), Duration.ofSeconds(1));
        HostInventoryCollector inventory = new HostInventoryCollector(hostId, config.hostName(), endpoint,
                qemuVersion, accel.accelerator(), warnings, ha::warnings, storage, space, vms::shuttingDown,
                HostInventoryCollector.cpuModels(config.qemuBinary(), accel.kvm()), config.migrationAddress(),
                config.migrationPortFrom(), config.migrationPortTo());
        ReportBuilder reports = new ReportBuilder(inventory, vms, ha::leases);
        server.createContext("/", AgentApi.routes(vms, storage, inventory, reports, new AgentApi.MigrationPorts(
                config.migrationAddress(), config.migrationPortFrom(), config.migrationPortTo()),
                new org.carevisor.agent.host.HostPowerOff(config.powerOffAction(), vms, () -> System.exit(0)))
                .onlyFrom("manager"));
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.start();
        Path endpointFile = config.stateDir().resolve("agent.endpoint");
        Files.writeString(endpointFile.resolveSibling("agent.endpoint.tmp"), endpoint + "\n", StandardCharsets.UTF_8);
        Files.move(endpointFile.resolveSibling("agent.endpoint.tmp"), endpointFile,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);

        ManagerReporter reporter = null;
        if (config.managerUrl() != null) {
            // reports go only to a server whose certificate is the manager's (not another host's of the CA)
            reporter = new ManagerReporter(config.managerUrl(), reports, config.reportInterval(),
                    Tls.context(identity, "manager"), ha::accept);
            reporterRef.set(reporter);
        }
        ha.start(reporter == null ? null : reporter::lastSuccess);
        if (reporter != null) {
            reporter.start();
        }
        LOG.info("agent for host {} ({}) listening on {}; {} running VM(s) re-adopted; storage {}",
                config.hostName(), hostId, endpoint, adopted, storage.root());
        return new Agent(server, scheduler, reporter, hostId, endpoint, vms, inventory, ha, space);
    }

    private static String qemuVersion(String qemuBinary) {
        ProcessRunner.Result r = ProcessRunner.run(List.of(qemuBinary, "--version"), Duration.ofSeconds(20));
        if (!r.ok()) {
            throw new IllegalStateException(qemuBinary + " --version failed: " + r.stderr());
        }
        String first = r.stdout().lines().findFirst().orElse("");
        return first.replaceFirst("^QEMU emulator version\\s*", "").strip();
    }

    public String hostId() {
        return hostId;
    }

    public String endpoint() {
        return endpoint;
    }

    public VmRegistry vms() {
        return vms;
    }

    public HostInventoryCollector inventory() {
        return inventory;
    }

    /** The agent's high-availability half: storage lease, HA settings, watchdog, isolation response. */
    public HaService ha() {
        return ha;
    }

    /**
     * Stops the agent's API, reporting and lease renewal; VMs keep running, and the HA watchdog keeps the
     * storage lease for them (mode keeper) until the next agent takes over. The watchdog ends by itself once
     * no QEMU of this state directory runs any more, or when the state directory is removed. Idempotent.
     */
    @Override
    public void close() {
        stop();
        ha.close();
    }

    /**
     * Stops the agent like {@link #close()} and its HA watchdog for good, waiting until the watchdog process
     * is gone: for tests, and for taking a host out of HA service. VMs keep running, unguarded.
     */
    public void closeAndStopWatchdog() {
        stop();
        ha.closeAndStopWatchdog();
    }

    private void stop() {
        if (stopped.getAndSet(true)) {
            return;
        }
        if (reporter != null) {
            reporter.stop();
        }
        server.stop(0);
        scheduler.shutdownNow();
        space.close();
    }
}
