package org.carevisor.manager;

import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.carevisor.manager.api.ApiRoutes;
import org.carevisor.manager.api.ApiServer;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.db.Database;
import org.carevisor.manager.host.AgentClient;
import org.carevisor.manager.host.HostBoard;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.host.ReportIngest;
import org.carevisor.manager.image.ImageCatalog;
import org.carevisor.manager.api.HostAdminRoutes;
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

    private Manager(Database db, TaskService tasks, Reconciler reconciler, ApiServer api, ExecutorService background,
                    VmService vms, AgentListener agentListener, ManagerPki pki) {
        this.db = db;
        this.tasks = tasks;
        this.reconciler = reconciler;
        this.api = api;
        this.background = background;
        this.vms = vms;
        this.agentListener = agentListener;
        this.pki = pki;
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
        VmPowerService power = new VmPowerService(vmRepo, observed, board, hostRepo, agents, tasks, audit, config);
        VmService vms = new VmService(vmRepo, observed, board, agents, images, tasks, audit, config, power);
        SnapshotRepository snapshotRepo = new SnapshotRepository(db.jdbi());
        SnapshotService snapshots = new SnapshotService(vms, power, vmRepo, snapshotRepo, observed, agents, tasks, audit);
        TemplateService templates = new TemplateService(new TemplateRepository(db.jdbi()), vmRepo, vms, power,
                snapshotRepo, observed, board, agents, tasks, audit);
        TransferService transfer = new TransferService(vms, power, vmRepo, snapshotRepo, board, agents, tasks, audit);
        Reconciler reconciler = new Reconciler(vmRepo, observed, board, agents, tasks, audit,
                config.reconcileInterval(), config.shutdownTimeoutSeconds());
        ExecutorService background = Executors.newVirtualThreadPerTaskExecutor();
        ReportIngest ingest = new ReportIngest(board, hostRepo, vmRepo, observed, audit,
                () -> background.execute(images::refresh), reconciler::kick);
        JoinTokens joinTokens = new JoinTokens(db.jdbi());
        AgentListener agentListener = AgentListener.start(config.agentListen(), config.agentPort(), pki,
                new EnrollmentService(db.jdbi(), joinTokens, pki, audit), ingest, db.jdbi());
        HostService hostService = new HostService(db.jdbi(), hostRepo, board, vmRepo, pki, audit, agents);
        ApiServer api = ApiServer.start(config.listenAddress(), config.port(),
                new ApiRoutes(vms, power, tasks, hostRepo, board, images, audit, db, VERSION, templates,
                        snapshots, transfer, new HostAdminRoutes(joinTokens, pki, hostService, config,
                        agentListener)));
        reconciler.start();
        audit.record(new AuditLog.Entry(Actor.system("manager"), "manager.start", "manager", null, null, null,
                java.util.Map.of("version", VERSION, "database", db.product()),
                interrupted > 0 ? interrupted + " unfinished task(s) of the previous run marked failed" : null,
                AuditLog.Outcome.SUCCESS, null));
        LOG.info("manager {} listening on http://{}:{}/ (database: {}); agents connect to https://{}:{} "
                        + "(CA {}); {} interrupted task(s) marked failed", VERSION, config.listenAddress(), api.port(),
                db.product(), config.agentListen(), agentListener.port(), pki.caFingerprint(), interrupted);
        return new Manager(db, tasks, reconciler, api, background, vms, agentListener, pki);
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
        api.close();
        agentListener.close();
        reconciler.close();
        tasks.close();
        background.shutdownNow();
        db.close();
    }
}
