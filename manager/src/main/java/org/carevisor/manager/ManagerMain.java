package org.carevisor.manager;

import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Command-line entry of the manager: {@code carevisor-manager --data-dir DIR --port 7700 ...}. */
public final class ManagerMain {
    private ManagerMain() {
    }

    /** Writes a file of the data directory atomically, readable by the manager's user only (0600). */
    private static void writeAtomically(java.nio.file.Path file, String text) throws java.io.IOException {
        org.carevisor.manager.secrets.PrivateFiles.write(file, text);
    }

    /**
     * {@code emergency-access --user NAME --reason TEXT [manager options]}: break-glass access on the manager's
     * machine while the manager is stopped (see docs/operations.md). Prints a one-time password.
     */
    static int emergencyAccess(String[] args) {
        String user = "emergency";
        String reason = null;
        java.util.List<String> rest = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--user" -> user = args[++i];
                case "--reason" -> reason = args[++i];
                default -> rest.add(args[i]);
            }
        }
        if (reason == null || reason.isBlank()) {
            System.err.println("carevisor-manager emergency-access: --reason is required (it is kept in the audit trail)");
            return 2;
        }
        try {
            ManagerConfig config = ManagerConfig.parse(rest.toArray(String[]::new), System.getenv());
            try (org.carevisor.manager.db.Database db = org.carevisor.manager.db.Database.open(config.dbUrl(),
                    config.dbUser(), config.dbPassword())) {
                org.carevisor.manager.audit.AuditLog audit = new org.carevisor.manager.audit.AuditLog(db.jdbi());
                org.carevisor.manager.auth.UserRepository repo = new org.carevisor.manager.auth.UserRepository(db.jdbi());
                org.carevisor.manager.auth.UserService users = new org.carevisor.manager.auth.UserService(repo,
                        new org.carevisor.manager.auth.AuthService(repo, audit), audit, s -> {
                            throw new IllegalArgumentException(s);
                        }, s -> java.util.List.of(org.carevisor.manager.auth.Scope.EVERYTHING, s));
                users.bootstrap(null, "the console", config.adminPasswordValidity());
                String password = users.emergencyAccess(user, reason);
                System.out.println("Emergency access for user '" + user + "': one-time password " + password);
                System.out.println("It must be changed at the first login. This access is recorded in the audit trail"
                        + " (user.emergency-access) and must be reviewed.");
                return 0;
            }
        } catch (RuntimeException e) {
            String m = String.valueOf(e.getMessage());
            System.err.println("carevisor-manager emergency-access: " + (m.contains("Database may be already in use")
                    || m.contains("locked") ? "the database is in use: stop the manager first" : m));
            return 1;
        }
    }

    /**
     * {@code audit-reanchor --reason TEXT [manager options]}: accepts the database's audit trail as it is after an
     * acknowledged loss (a database restored from an older backup, a lost anchor file), while the manager is
     * stopped; see docs/operations.md. Refused for a trail that is damaged in itself.
     */
    static int auditReanchor(String[] args) {
        String reason = null;
        java.util.List<String> rest = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--reason") && i + 1 < args.length) {
                reason = args[++i];
            } else {
                rest.add(args[i]);
            }
        }
        if (reason == null || reason.isBlank()) {
            System.err.println("carevisor-manager audit-reanchor: --reason is required (it is kept in the audit trail)");
            return 2;
        }
        try {
            ManagerConfig config = ManagerConfig.parse(rest.toArray(String[]::new), System.getenv());
            try (org.carevisor.manager.db.Database db = org.carevisor.manager.db.Database.open(config.dbUrl(),
                    config.dbUser(), config.dbPassword())) {
                org.carevisor.manager.audit.AuditLog audit = new org.carevisor.manager.audit.AuditLog(db.jdbi());
                java.nio.file.Path caFile = config.dataDir().resolve("pki/ca.crt");
                org.carevisor.manager.audit.AuditTrust trust = new org.carevisor.manager.audit.AuditTrust(
                        org.carevisor.manager.audit.CheckpointKey.open(config.keyDir(),
                                org.carevisor.manager.audit.AuditCheckpoints.signedKeyId(db.jdbi())),
                        new org.carevisor.manager.audit.AuditAnchor(config.auditAnchor()),
                        java.nio.file.Files.exists(caFile)
                                ? org.carevisor.pki.Pem.certificate(java.nio.file.Files.readString(caFile)) : null);
                var outcome = org.carevisor.manager.audit.AuditReanchor.run(audit, trust,
                        org.carevisor.manager.audit.SyslogSink.parse(config.auditSyslog()), reason);
                System.out.println(outcome.summary());
                System.out.println("Recorded in the audit trail (audit.reanchored) and sent to syslog; it must be"
                        + " reviewed.");
                return 0;
            }
        } catch (RuntimeException | java.io.IOException e) {
            String m = String.valueOf(e.getMessage());
            System.err.println("carevisor-manager audit-reanchor: " + (m.contains("Database may be already in use")
                    || m.contains("locked") ? "the database is in use: stop the manager first" : m));
            return 1;
        }
    }

    public static void main(String[] args) throws Exception {
        System.setProperty("carevisor.component", "manager");
        if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.println("""
                    Usage: carevisor-manager [--option value ...]
                      --data-dir DIR                manager state (embedded database)          [var/manager]
                      --db-url URL                  JDBC URL; jdbc:postgresql://host/db for PostgreSQL
                                                    [jdbc:h2:file:<data-dir>/carevisor]
                      --db-user USER, --db-password PASSWORD
                      --listen ADDRESS              API and web console address                [127.0.0.1]
                      --port N                      API and web console port (0: any free)     [7700]
                      --guest-port-range A-B        host ports for guest port forwards         [20000-20999]
                      --host-timeout-ms N           host "not responding" after this silence   [10000]
                      --reconcile-interval-ms N     reconcile loop period                      [1000]
                      --shutdown-timeout-seconds N  default graceful shutdown time             [60]
                      --agent-listen ADDRESS        agent listener (mutual TLS) address        [127.0.0.1]
                      --agent-port N                agent listener port (0: any free)          [7702]
                      --agent-names A,B             more names/addresses agents use for the manager
                      --public-name A,B             names/addresses users reach the API at (certificate
                                                    names; the first is the URL the manager announces)
                      --tls-cert FILE --tls-key FILE  serve the API with your certificate chain and key (PEM)
                      --tls-keystore FILE           ... or from a PKCS#12 file (password in
                                                    CAREVISOR_MANAGER_TLS_KEYSTORE_PASSWORD)
                                                    (default: the manager's CA issues the API certificate;
                                                    changed files are served without a restart)
                      --plain-http true             plain HTTP instead of HTTPS (loopback addresses only)
                      --admin-password-hours N      the first administrator's initial password works
                                                    this long unless changed before             [24]
                      --key-dir DIR                 checkpoint and secrets keys, outside the data directory
                                                    [<data-dir>/../keys]
                      --audit-anchor FILE           append-only copy of every audit checkpoint, outside the data
                                                    directory                          [<data-dir>/../audit/anchor.jsonl]
                      --audit-syslog TARGET         local, udp://HOST:PORT, tcp://HOST:PORT or none      [local]
                      --ha-boot-window-seconds N    after a start, hosts not heard from yet are waited for
                                                    this long before HA suspects or fences them       [600]
                      --migration-boot-settle-seconds N
                                                    a live migration begins once the VM's QEMU has
                                                    run this long (guests moved while booting crashed) [30]
                      --ups NAME@HOST[:PORT],...    UPSes to watch through Network UPS Tools (upsd); a critical
                                                    one (on battery and low, FSD) shuts the site down in order
                      --ups-on-battery-seconds N    also shut down after this long on battery (10-86400)
                      --ups-vm-timeout-seconds N    ACPI time per guest in a UPS shutdown              [60]
                    Every option can also be set as CAREVISOR_MANAGER_<OPTION> (e.g. CAREVISOR_MANAGER_DB_URL).
                    Maintenance (manager stopped): emergency-access --user NAME --reason TEXT,
                                                   audit-reanchor --reason TEXT   [manager options]""");
            return;
        }
        if (args.length > 0 && args[0].equals("audit-reanchor")) {
            System.exit(auditReanchor(java.util.Arrays.copyOfRange(args, 1, args.length)));
            return;
        }
        if (args.length > 0 && args[0].equals("emergency-access")) {
            System.exit(emergencyAccess(java.util.Arrays.copyOfRange(args, 1, args.length)));
            return;
        }
        ManagerConfig config;
        try {
            config = ManagerConfig.parse(args, System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println("carevisor-manager: " + e.getMessage() + " (see --help)");
            System.exit(2);
            return;
        }
        Logger log = LoggerFactory.getLogger(ManagerMain.class);
        Manager manager;
        try {
            manager = Manager.start(config);
        } catch (Exception e) {
            log.error("manager cannot start: {}", e.getMessage(), e);
            System.exit(1);
            return;
        }
        String url = org.carevisor.manager.tls.ApiTls.url(config.tls(), config.listenAddress(), manager.port());
        // Written atomically: the launcher, the CLI and the test lab read these while the manager starts.
        // agent.url first: a reader that sees manager.url can rely on it.
        writeAtomically(config.dataDir().resolve("agent.url"), "https://" + config.agentListen() + ":"
                + manager.agentPort() + "\n");
        writeAtomically(config.dataDir().resolve("manager.url"), url + "\n");
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("manager stopping");
            manager.close();
            stop.countDown();
        }));
        stop.await();
    }
}
