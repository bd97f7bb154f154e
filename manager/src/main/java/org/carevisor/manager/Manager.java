package org.carevisor.manager;

import java.time.Duration;
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
import org.carevisor.manager.alarm.Alarms;
import org.carevisor.manager.audit.AuditCheckpoints;
import org.carevisor.manager.audit.AuditTrust;
import org.carevisor.manager.audit.SyslogSink;
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
import org.carevisor.manager.jobs.JobSupervisor;
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
import org.carevisor.manager.security.HostAddresses;
import org.carevisor.manager.security.ReportClaims;
import org.carevisor.manager.security.ReportIdentity;
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

/**
 * One running manager: database, services, HTTP server and the periodic jobs (reconcile loop, balancer, HA
 * evaluation, migration recovery, audit checkpoints, login limits; all under one {@link JobSupervisor}), wired
 * together.
 */
public final class Manager implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Manager.class);
    public static final String VERSION = version();

    private final Database db;
    private final TaskService tasks;
    private final ApiServer api;
    private final ExecutorService background;
    private final VmService vms;
    private final AgentListener agentListener;
    private final ManagerPki pki;
    private final JobSupervisor jobs;
    private final AuditCheckpoints checkpoints;
    private final HaService ha;

    private Manager(Database db, TaskService tasks, ApiServer api, ExecutorService background, VmService vms,
                    AgentListener agentListener, ManagerPki pki, JobSupervisor jobs, AuditCheckpoints checkpoints,
                    HaService ha) {
        this.ha = ha;
        this.checkpoints = checkpoints;
        this.db = db;
        this.tasks = tasks;
        this.api = api;
        this.background = background;
        this.vms = vms;
        this.agentListener = agentListener;
        this.pki = pki;
        this.jobs = jobs;
    }

    /** Port of the agent listener (mutual TLS). */
    public int agentPort() {
        return agentListener.port();
    }

    public ManagerPki pki() {
        return pki;
    }

    public static Manager start(ManagerConfig config) throws java.io.IOException {
        org.carevisor.manager.secrets.PrivateFiles.directory(config.dataDir());
        Database db = Database.open(config.dbUrl(), config.dbUser(), config.dbPassword());
        AuditLog audit;
        ManagerKeys keys;
        try {
            audit = new AuditLog(db.jdbi());
            keys = ManagerKeys.open(config, db.jdbi(), audit);
        } catch (RuntimeException | java.io.IOException e) {
            db.close();
            throw e;
        }
        JobSupervisor jobs = JobSupervisor.forManager(audit);
        TaskService tasks = new TaskService(db.jdbi());
        int interrupted = tasks.failInterrupted();
        HostBoard board = new HostBoard(config.hostTimeout());
        HostRepository hostRepo = new HostRepository(db.jdbi());
        List<String> names = new java.util.ArrayList<>(config.agentNames());
        names.add(config.agentListen());
        ManagerPki pki = ManagerPki.open(config.dataDir(), names, db.jdbi());
        org.carevisor.manager.tls.ApiTls tls;
        try { // checked before anything starts: an unusable certificate stops the start with its reason
            tls = config.tls().plainHttp() ? null : org.carevisor.manager.tls.ApiTls.open(config.tls(),
                    config.listenAddress(), apiCa(config), change -> auditTlsChange(audit, change));
        } catch (RuntimeException | java.io.IOException e) {
            db.close();
            throw e;
        }
        AuditTrust trust = keys.trust(pki.ca().certificate());
        // an installation made under a default umask: its database files and keys become the owner's only
        org.carevisor.manager.secrets.PrivateFiles.tighten(config.dataDir());
        AgentClient agents = new AgentClient(pki.agentClientContext());
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
        TransferService transfer = new TransferService(vms, power, vmRepo, snapshotRepo, board, agents, tasks, audit,
                placement, networks);
        Reconciler reconciler = new Reconciler(vmRepo, observed, board, agents, tasks, audit,
                config.reconcileInterval(), config.shutdownTimeoutSeconds());
        reconciler.usePower(power);
        MigrationService migrations = new MigrationService(vms, power, vmRepo, new MigrationRepository(db.jdbi()),
                placement, clusterRepo, board, hostRepo, agents, tasks, audit, observed, config.migrationBootSettle());
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
        HaRepository haRepo = new HaRepository(db.jdbi(), keys.secrets());
        HaService ha = new HaService(haRepo, vmRepo, hostRepo, board, observed, agents, power, placement, tasks, audit);
        ha.labMode(config.labMode());
        ha.bootWindow(config.haBootWindow());
        HaSettings haSettings = new HaSettings(haRepo, vmRepo, config.labMode());
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
        org.carevisor.manager.site.SiteShutdownService site = org.carevisor.manager.site.SiteShutdownService.create(
                db.jdbi(), hostRepo, board, vmRepo, observed, haRepo::vms, agents, audit, tasks);
        ha.poweredOffHosts(site::poweredOffHosts);
        ingest.onReport(report -> {
            site.reported(report);
            return ha.report(report);
        });
        reconciler.haProtected(ha::protectedVm);
        reconciler.haSettings(haRepo::vms);
        JoinTokens joinTokens = new JoinTokens(db.jdbi());
        AgentListener agentListener = AgentListener.start(config.agentListen(), config.agentPort(),
                new AgentListener.Services(pki, new EnrollmentService(db.jdbi(), joinTokens, pki, audit), ingest,
                        new ReportIdentity(db.jdbi(), new HostAddresses(pki.names()), audit),
                        new ReportClaims(vmRepo, migrations.repository(), audit), db.jdbi(), audit));
        HostService hostService = new HostService(db.jdbi(), hostRepo, board, vmRepo, pki, audit, agents, clusterRepo);
        ClusterService clusterService = new ClusterService(clusterRepo, hostRepo, vmRepo, audit);
        UserRepository userRepo = new UserRepository(db.jdbi());
        AuthService auth = new AuthService(userRepo, audit);
        Guard guard = new Guard(auth, audit, vms, hostService, clusterService, tasks, templates, placement, rules);
        UserService users = new UserService(userRepo, auth, audit, guard::resolveScope, guard::scopePath);
        String initial = System.getenv("CAREVISOR_ADMIN_PASSWORD");
        users.bootstrap(initial != null ? initial : System.getProperty("carevisor.admin-password"),
                "the manager's standard output", config.adminPasswordValidity());
        Alarms alarms = new Alarms();
        org.carevisor.manager.ups.UpsMonitor ups = new org.carevisor.manager.ups.UpsMonitor(config.ups(),
                new org.carevisor.manager.ups.UpsPolicy.Settings(config.upsOnBattery(), 3), config.upsVmTimeoutSeconds(),
                new org.carevisor.manager.ups.NutClient(Duration.ofSeconds(2)), site, audit, alarms);
        AuditCheckpoints checkpoints = new AuditCheckpoints(audit, trust, SyslogSink.parse(config.auditSyslog()),
                alarms, () -> auth.settings().checkpointSeconds());
        AuditVerifier verifier = new AuditVerifier(audit, trust);
        SecurityRoutes securityRoutes = new SecurityRoutes(auth, users, audit, verifier, checkpoints,
                new AuditReviews(audit, verifier));
        ApiServer api = ApiServer.start(config.listenAddress(), config.port(), tls,
                new ApiRoutes(vms, power, tasks, hostRepo, board, images, audit, db, VERSION, templates,
                        snapshots, transfer, new HostAdminRoutes(joinTokens, pki, hostService, config,
                        agentListener, clusterService, audit), new ClusterRoutes(clusterService, hostService, hostRepo,
                        networks, rules, placement, migrations, maintenance, balancer, tasks, vmRepo), placement,
                        securityRoutes, new HaRoutes(ha, haSettings, vms, clusterService, hostService, audit),
                        alarms, new org.carevisor.manager.api.SiteRoutes(site, ups)).jobs(jobs), guard);
        // every periodic job runs under the supervisor: a pass that throws anything (an Error too) is logged and the
        // schedule goes on; a job that keeps failing or stops finishing passes raises an alarm (health, audit)
        Duration second = Duration.ofSeconds(1);
        JobSupervisor.Job reconcile = jobs.schedule("reconcile", reconciler::interval, reconciler.interval(),
                reconciler::pass);
        reconciler.onKick(reconcile::kick);
        jobs.schedule("balancer", () -> second, second, balancer::pass);
        ha.start();
        jobs.schedule("ha-evaluation", () -> second, second, ha::tick);
        jobs.schedule("migration-recovery", () -> Duration.ofSeconds(2), Duration.ofSeconds(2), migrations::recover);
        jobs.schedule("audit-checkpoints", checkpoints::interval, checkpoints.interval(), checkpoints::checkpoint);
        org.carevisor.manager.vm.NoSpaceAlarms noSpace = new org.carevisor.manager.vm.NoSpaceAlarms(observed, vmRepo,
                alarms, audit);
        jobs.schedule("no-space-alarms", () -> Duration.ofSeconds(5), Duration.ofSeconds(5), noSpace::pass);
        jobs.schedule("site-shutdown-recovery", () -> Duration.ofSeconds(5), Duration.ofSeconds(5), site::recover);
        if (ups.enabled()) {
            jobs.schedule("ups", () -> org.carevisor.manager.ups.UpsMonitor.INTERVAL,
                    org.carevisor.manager.ups.UpsMonitor.INTERVAL, ups::pass);
        }
        jobs.schedule("login-limits", () -> Duration.ofSeconds(10), Duration.ofSeconds(10), auth::sweepLimits);
        if (tls != null) { // the old certificate stays when a pass fails; the next one tries again
            jobs.schedule("api-certificate", () -> org.carevisor.manager.tls.ApiTls.POLL,
                    org.carevisor.manager.tls.ApiTls.POLL, tls::check);
        }
        audit.record(new AuditLog.Entry(Actor.system("manager"), "manager.start", "manager", null, null, null,
                java.util.Map.of("version", VERSION, "database", db.product()),
                interrupted > 0 ? interrupted + " unfinished task(s) of the previous run marked failed" : null,
                AuditLog.Outcome.SUCCESS, null));
        try {
            // the trail since the last anchored checkpoint is checked now, not a minute later: a forged head
            // raises the alarm at once
            checkpoints.checkpoint();
        } catch (RuntimeException e) {
            LOG.warn("could not sign the audit chain head at start: {}", e.toString());
        }
        LOG.info("manager {} listening on {} ({}); database: {}; agents connect to https://{}:{}; the manager's CA"
                        + " has fingerprint {}; {} interrupted task(s) marked failed", VERSION,
                org.carevisor.manager.tls.ApiTls.url(config.tls(), config.listenAddress(), api.port()),
                tls == null ? "plain HTTP on loopback, as asked" : "API certificate " + tls.current().fingerprint()
                        + " " + tls.current().source() + ", valid until " + tls.current().notAfter(),
                db.product(), config.agentListen(), agentListener.port(), pki.caFingerprint(), interrupted);
        return new Manager(db, tasks, api, background, vms, agentListener, pki, jobs, checkpoints, ha);
    }

    /**
     * The certificate authority of the API's certificate ({@code <data-dir>/pki/api-ca.crt}), the one users import
     * into browsers. It is not the host CA ({@code ca.crt}) that issues certificates to enrolling hosts: a host could
     * otherwise obtain a certificate that browsers trusting the API's CA would take for any name it asked for.
     */
    private static org.carevisor.pki.CertificateAuthority apiCa(ManagerConfig config) throws java.io.IOException {
        return org.carevisor.pki.CertificateAuthority.loadOrCreate(config.dataDir().resolve("pki"), "Carevisor API CA",
                "api-ca");
    }

    /** Every replacement of the API certificate (or refusal of a new one) is an audit record of the manager. */
    private static void auditTlsChange(AuditLog audit, org.carevisor.manager.tls.ApiTls.Change c) {
        audit.record(new AuditLog.Entry(Actor.system("manager"), "manager.tls.reload", "manager", null, null,
                c.oldFingerprint() == null ? null : java.util.Map.of("fingerprint", c.oldFingerprint()),
                c.newFingerprint() == null ? java.util.Map.of("source", c.source())
                        : java.util.Map.of("fingerprint", c.newFingerprint(), "source", c.source()),
                c.detail(), c.success() ? AuditLog.Outcome.SUCCESS : AuditLog.Outcome.FAILURE, null));
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

    /** The supervisor of the manager's periodic jobs. */
    public JobSupervisor jobs() {
        return jobs;
    }

    @Override
    public void close() {
        jobs.close();
        ha.close();
        api.close();
        agentListener.close();
        tasks.close();
        background.shutdownNow();
        checkpoints.close();
        db.close();
    }
}
