package org.carevisor.manager;

import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.carevisor.manager.api.ApiRoutes;
import org.carevisor.manager.api.HaRoutes;
import org.carevisor.manager.ha.HaRepository;
import org.carevisor.manager.ha.HaService;
import org.carevisor.manager.ha.HaSettings;
import org.carevisor.manager.api.ApiServer;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.api.Guard;
import org.carevisor.manager.api.SecurityRoutes;
import org.carevisor.manager.audit.AuditCheckpoints;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditReviews;
import org.carevisor.manager.audit.AuditVerifier;
import org.carevisor.manager.auth.AuthService;
import org.carevisor.manager.auth.UserRepository;
import org.carevisor.manager.auth.UserService;
import org.carevisor.manager.db.Database;
import org.carevisor.manager.host.AgentClient;
import org.carevisor.manager.host.HostBoard;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.host.ReportIngest;
import org.carevisor.manager.image.ImageCatalog;
import org.carevisor.manager.api.ClusterRoutes;
import org.carevisor.manager.api.HostAdminRoutes;
import org.carevisor.manager.cluster.ClusterRepository;
import org.carevisor.manager.cluster.ClusterService;
import org.carevisor.manager.migration.Balancer;
import org.carevisor.manager.migration.MaintenanceService;
import org.carevisor.manager.migration.MigrationRepository;
import org.carevisor.manager.migration.MigrationService;
import org.carevisor.manager.network.NetworkService;
import org.carevisor.manager.placement.PlacementService;
import org.carevisor.manager.placement.RuleService;
import org.carevisor.manager.host.HostService;
import org.carevisor.manager.reconcile.Reconciler;
import org.carevisor.manager.security.AgentListener;
import org.carevisor.manager.security.EnrollmentService;
import org.carevisor.manager.security.JoinTokens;
import org.carevisor.manager.security.ManagerPki;
import org.carevisor.manager.snapshot.SnapshotRepository;
import org.carevisor.manager.snapshot.SnapshotService;
import org.carevisor.manager.template.TemplateRepository;
import org.carevisor.manager.template.TemplateService;
import org.carevisor.manager.transfer.TransferService;
import org.carevisor.manager.task.TaskService;
import org.carevisor.manager.vm.ObservedStore;
import org.carevisor.manager.vm.VmPowerService;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.manager.vm.VmService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One running manager: database, services, reconcile loop and HTTP server, wired together. */
public final class Manager implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Manager.class);
    public static final String VERSION = version();

    private final Database db;
    private final TaskService tasks;
    private final Reconciler reconciler;
    private final ApiServer api;
    private final ExecutorService background;
    private final VmService vms;
    private final AgentListener agentListener;
    private final ManagerPki pki;
    private final org.carevisor.manager.migration.Balancer balancer;
    private final java.util.concurrent.ScheduledExecutorService timers;
    private final AuditCheckpoints checkpoints;
    private final HaService ha;

    private Manager(Database db, TaskService tasks, Reconciler reconciler, ApiServer api, ExecutorService background,
                    VmService vms, AgentListener agentListener, ManagerPki pki,
                    org.carevisor.manager.migration.Balancer balancer,
                    java.util.concurrent.ScheduledExecutorService timers, AuditCheckpoints checkpoints, HaService ha) {
        this.ha = ha;
        this.checkpoints = checkpoints;
        this.db = db;
        this.tasks = tasks;
        this.reconciler = reconciler;
        this.api = api;
        this.background = background;
        this.vms = vms;
        this.agentListener = agentListener;
        this.pki = pki;
        this.balancer = balancer;
        this.timers = timers;
    }

    /** Port of the agent listener (mutual TLS). */
    public int agentPort() {
        return agentListener.port();
    }

    public ManagerPki pki() {
        return pki;
    }

    public static Manager start(ManagerConfig config) throws java.io.IOException {
        java.nio.file.Files.createDirectories(config.dataDir());
        Database db = Database.open(config.dbUrl(), config.dbUser(), config.dbPassword());
        AuditLog audit = new AuditLog(db.jdbi());
        TaskService tasks = new TaskService(db.jdbi());
        int interrupted = tasks.failInterrupted();
        HostBoard board = new HostBoard(config.hostTimeout());
        HostRepository hostRepo = new HostRepository(db.jdbi());
        List<String> names = new java.util.ArrayList<>(config.agentNames());
        names.add(config.agentListen());
        ManagerPki pki = ManagerPki.open(config.dataDir(), names, db.jdbi());
        AgentClient agents = new AgentClient(pki.context());
        ObservedStore observed = new ObservedStore(db.jdbi());
        observed.load();
        VmRepository vmRepo = new VmRepository(db.jdbi());
        ImageCatalog images = new ImageCatalog(db.jdbi(), board, agents);
        ClusterRepository clusterRepo = new ClusterRepository(db.jdbi());
        RuleService rules = new RuleService(db.jdbi(), vmRepo, hostRepo, audit);
        PlacementService placement = new PlacementService(board, hostRepo, clusterRepo, vmRepo, observed, rules);
        NetworkService networks = new NetworkService(db.jdbi(), audit);
        VmPowerService power = new VmPowerService(vmRepo, observed, board, hostRepo, agents, tasks, audit, config);
        power.usePlacement(placement, clusterRepo);
        VmService vms = new VmService(vmRepo, observed, board, agents, images, tasks, audit, config, power, placement,
                networks);
        SnapshotRepository snapshotRepo = new SnapshotRepository(db.jdbi());
        SnapshotService snapshots = new SnapshotService(vms, power, vmRepo, snapshotRepo, observed, agents, tasks, audit);
        TemplateService templates = new TemplateService(new TemplateRepository(db.jdbi()), vmRepo, vms, power,
                snapshotRepo, observed, board, agents, tasks, audit);
        TransferService transfer = new TransferService(vms, power, vmRepo, snapshotRepo, board, agents, tasks, audit);
        Reconciler reconciler = new Reconciler(vmRepo, observed, board, agents, tasks, audit,
                config.reconcileInterval(), config.shutdownTimeoutSeconds());
        reconciler.usePower(power);
        MigrationService migrations = new MigrationService(vms, power, vmRepo, new MigrationRepository(db.jdbi()),
                placement, clusterRepo, board, hostRepo, agents, tasks, audit, observed);
        MaintenanceService maintenance = new MaintenanceService(hostRepo, vmRepo, observed, migrations, tasks, audit);
        Balancer balancer = new Balancer(clusterRepo, placement, rules, vmRepo, migrations, tasks);
        ExecutorService background = Executors.newVirtualThreadPerTaskExecutor();
        ReportIngest ingest = new ReportIngest(board, hostRepo, vmRepo, observed, audit,
                () -> background.execute(images::refresh), reconciler::kick);
        ingest.onStorageDomain((cluster, domain) -> {
            if (clusterRepo.adoptStorageDomain(cluster, domain)) {
                LOG.info("cluster {} uses storage domain {} (from its first host)", cluster, domain);
            }
        });
        HaRepository haRepo = new HaRepository(db.jdbi());
        HaService ha = new HaService(haRepo, vmRepo, hostRepo, board, observed, agents, power, placement, tasks, audit);
        HaSettings haSettings = new HaSettings(haRepo, vmRepo);
        placement.useHa(new PlacementService.HaFacts() {
            @Override
            public boolean admissionControl(String clusterId) {
                return haRepo.cluster(clusterId).admissionControl();
            }

            @Override
            public boolean protectedVm(String vmId) {
                return ha.protectedVm(vmId);
            }
        });
        ingest.onReport(ha::report);
        reconciler.haProtected(ha::protectedVm);
        JoinTokens joinTokens = new JoinTokens(db.jdbi());
        AgentListener agentListener = AgentListener.start(config.agentListen(), config.agentPort(), pki,
                new EnrollmentService(db.jdbi(), joinTokens, pki, audit), ingest, db.jdbi());
        HostService hostService = new HostService(db.jdbi(), hostRepo, board, vmRepo, pki, audit, agents, clusterRepo);
        ClusterService clusterService = new ClusterService(clusterRepo, hostRepo, vmRepo, audit);
        UserRepository userRepo = new UserRepository(db.jdbi());
        AuthService auth = new AuthService(userRepo, audit);
        Guard guard = new Guard(auth, audit, vms, hostService, clusterService, tasks, templates);
        UserService users = new UserService(userRepo, auth, audit, guard::resolveScope);
        String initial = System.getenv("CAREVISOR_ADMIN_PASSWORD");
        users.bootstrap(initial != null ? initial : System.getProperty("carevisor.admin-password"),
                "the manager's standard output");
        AuditCheckpoints checkpoints = new AuditCheckpoints(audit, pki.identity().key(), pki.identity().certificate(),
                () -> auth.settings().checkpointSeconds());
        AuditVerifier verifier = new AuditVerifier(audit, pki.ca().certificate());
        SecurityRoutes securityRoutes = new SecurityRoutes(auth, users, audit, verifier, checkpoints,
                new AuditReviews(audit, verifier));
        ApiServer api = ApiServer.start(config.listenAddress(), config.port(),
                new ApiRoutes(vms, power, tasks, hostRepo, board, images, audit, db, VERSION, templates,
                        snapshots, transfer, new HostAdminRoutes(joinTokens, pki, hostService, config,
                        agentListener, clusterService), new ClusterRoutes(clusterService, hostService, hostRepo,
                        networks, rules, placement, migrations, maintenance, balancer, tasks, vmRepo), placement,
                        securityRoutes, new HaRoutes(ha, haSettings, vms, clusterService, hostService, audit)), guard);
        reconciler.start();
        balancer.start();
        ha.start();
        java.util.concurrent.ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("migration-recovery").factory());
        timers.scheduleWithFixedDelay(() -> {
            try {
                migrations.recover();
            } catch (RuntimeException e) {
                LOG.warn("migration recovery pass failed", e);
            }
        }, 2, 2, java.util.concurrent.TimeUnit.SECONDS);
        audit.record(new AuditLog.Entry(Actor.system("manager"), "manager.start", "manager", null, null, null,
                java.util.Map.of("version", VERSION, "database", db.product()),
                interrupted > 0 ? interrupted + " unfinished task(s) of the previous run marked failed" : null,
                AuditLog.Outcome.SUCCESS, null));
        LOG.info("manager {} listening on http://{}:{}/ (database: {}); agents connect to https://{}:{} "
                        + "(CA {}); {} interrupted task(s) marked failed", VERSION, config.listenAddress(), api.port(),
                db.product(), config.agentListen(), agentListener.port(), pki.caFingerprint(), interrupted);
        return new Manager(db, tasks, reconciler, api, background, vms, agentListener, pki, balancer, timers,
                checkpoints, ha);
    }

    private static String version() {
        String v = Manager.class.getPackage().getImplementationVersion();
        return v == null ? "0.1.0-dev" : v;
    }

    public int port() {
        return api.port();
    }

    public ApiServer api() {
        return api;
    }

    public Database database() {
        return db;
    }

    public VmService vms() {
        return vms;
    }

    @Override
    public void close() {
        ha.close();
        timers.shutdownNow();
        balancer.close();
        api.close();
        agentListener.close();
        reconciler.close();
        tasks.close();
        background.shutdownNow();
        checkpoints.close();
        db.close();
    }
}
