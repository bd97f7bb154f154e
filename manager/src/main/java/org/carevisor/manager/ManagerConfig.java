package org.carevisor.manager;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.carevisor.manager.db.Database;

/**
 * Settings of the manager. Each has an option ({@code --data-dir DIR}) and an environment variable
 * ({@code CAREVISOR_MANAGER_DATA_DIR}); all are documented in docs/operations.md.
 *
 * @param dataDir                 manager state (embedded database)
 * @param dbUrl                   JDBC URL; H2 in {@code dataDir} by default, {@code jdbc:postgresql://...} for PostgreSQL
 * @param listenAddress           address of the API and web console
 * @param port                    port of the API and web console (0: any free port)
 * @param guestPortFrom           first host port handed out for guest port forwards
 * @param guestPortTo             last host port handed out for guest port forwards
 * @param hostTimeout             a host that has not reported for this long is "not responding"
 * @param reconcileInterval       how often the reconcile loop compares desired and observed state
 * @param shutdownTimeoutSeconds  default time a guest gets to shut down before it is powered off
 * @param agentListen             address of the agent listener (mutual TLS)
 * @param agentPort               port of the agent listener (0: any free port)
 * @param agentNames              further names/addresses agents use to reach the manager (certificate SANs)
 * @param tls                     HTTPS of the API and web console (certificate source, public names, plain HTTP)
 * @param adminPasswordValidity   how long the first administrator's initial password (from
 *                                CAREVISOR_ADMIN_PASSWORD, or generated) stays valid unless changed before
 * @param keyDir                  the checkpoint key and the secrets key, outside the data directory
 *                                ({@code <data-dir>/../keys} by default, i.e. {@code var/keys})
 * @param auditAnchor             the append-only anchor file of audit checkpoints, outside the data directory
 *                                ({@code <data-dir>/../audit/anchor.jsonl} by default)
 * @param auditSyslog             where checkpoints are sent: {@code local}, {@code udp://HOST:PORT},
 *                                {@code tcp://HOST:PORT} or {@code none}
 * @param labMode                 the manager runs a local lab ({@code ./carevisor lab}, testkit {@code Lab.cluster}):
 *                                only then may hosts be fenced with the {@code lab} fence agent (which kills the
 *                                processes of a network namespace); off by default
 * @param haBootWindow            after the manager starts, how long a host it has not heard from yet is waited for
 *                                (booting) before HA suspects and fences it (default 10 min)
 * @param ups                     UPSes watched through Network UPS Tools ({@code --ups NAME@HOST[:PORT],...}); a
 *                                critical one starts an orderly site shutdown
 * @param upsOnBattery            on battery this long starts the site shutdown ({@code --ups-on-battery-seconds};
 *                                null, the default: only when the UPS is critical, e.g. battery low)
 * @param upsVmTimeoutSeconds     how long each guest gets for its ACPI shutdown in a UPS-started site shutdown
 * @param migrationBootSettle     a live migration begins only once the VM's QEMU has run this long (default 30 s;
 *                                guests moved in their first seconds of boot crashed under TCG)
 */
public record ManagerConfig(Path dataDir, String dbUrl, String dbUser, String dbPassword, String listenAddress,
                            int port, int guestPortFrom, int guestPortTo, Duration hostTimeout,
                            Duration reconcileInterval, int shutdownTimeoutSeconds, String agentListen, int agentPort,
                            java.util.List<String> agentNames, Duration adminPasswordValidity,
                            org.carevisor.manager.tls.ApiTlsSettings tls, Path keyDir, Path auditAnchor,
                            String auditSyslog, boolean labMode, Duration haBootWindow,
                            java.util.List<org.carevisor.manager.ups.UpsTarget> ups, Duration upsOnBattery,
                            int upsVmTimeoutSeconds, Duration migrationBootSettle) {

    public static ManagerConfig parse(String[] args, Map<String, String> env) {
        Map<String, String> opts = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument '" + a + "'; options look like --port 7700");
            }
            String key = a.substring(2);
            int eq = key.indexOf('=');
            if (eq >= 0) {
                opts.put(key.substring(0, eq), key.substring(eq + 1));
            } else if (i + 1 < args.length) {
                opts.put(key, args[++i]);
            } else {
                throw new IllegalArgumentException("option --" + key + " needs a value");
            }
        }
        Set<String> known = new HashSet<>();
        java.util.function.BiFunction<String, String, String> get = (k, d) -> {
            known.add(k);
            String v = opts.get(k);
            if (v == null) {
                v = env.get("CAREVISOR_MANAGER_" + k.toUpperCase(Locale.ROOT).replace('-', '_'));
            }
            return v == null || v.isEmpty() ? d : v;
        };
        Path dataDir = Path.of(get.apply("data-dir", "var/manager")).toAbsolutePath();
        String range = get.apply("guest-port-range", "20000-20999");
        String[] ends = range.split("-");
        if (ends.length != 2) {
            throw new IllegalArgumentException("--guest-port-range must look like 20000-20999, not " + range);
        }
        String listen = get.apply("listen", "127.0.0.1");
        ManagerConfig c = new ManagerConfig(dataDir, get.apply("db-url", Database.h2Url(dataDir)),
                get.apply("db-user", null), get.apply("db-password", null), listen,
                Integer.parseInt(get.apply("port", "7700")), Integer.parseInt(ends[0].strip()),
                Integer.parseInt(ends[1].strip()),
                Duration.ofMillis(Long.parseLong(get.apply("host-timeout-ms", "10000"))),
                Duration.ofMillis(Long.parseLong(get.apply("reconcile-interval-ms", "1000"))),
                Integer.parseInt(get.apply("shutdown-timeout-seconds", "60")),
                get.apply("agent-listen", "127.0.0.1"), Integer.parseInt(get.apply("agent-port", "7702")),
                java.util.Arrays.stream(get.apply("agent-names", "").split(",")).map(String::strip)
                        .filter(x -> !x.isEmpty()).toList(),
                Duration.ofHours(Long.parseLong(get.apply("admin-password-hours", "24"))),
                org.carevisor.manager.tls.ApiTlsSettings.parse(get, listen),
                Path.of(get.apply("key-dir", dataDir.resolveSibling("keys").toString())).toAbsolutePath().normalize(),
                Path.of(get.apply("audit-anchor", dataDir.resolveSibling("audit").resolve("anchor.jsonl").toString()))
                        .toAbsolutePath().normalize(),
                get.apply("audit-syslog", "local"),
                bool(get.apply("lab-mode", "false"), "--lab-mode"),
                Duration.ofSeconds(number(get.apply("ha-boot-window-seconds", "600"), "--ha-boot-window-seconds")),
                org.carevisor.manager.ups.UpsTarget.parseList(get.apply("ups", "")),
                upsOnBattery(get.apply("ups-on-battery-seconds", "")),
                (int) number(get.apply("ups-vm-timeout-seconds", "60"), "--ups-vm-timeout-seconds"),
                Duration.ofSeconds(number(get.apply("migration-boot-settle-seconds", "30"),
                        "--migration-boot-settle-seconds")));
        for (String k : opts.keySet()) {
            if (!known.contains(k)) {
                throw new IllegalArgumentException("unknown option --" + k + "; known: --"
                        + String.join(", --", new TreeSet<>(known)));
            }
        }
        if (c.adminPasswordValidity.toHours() < 1 || c.adminPasswordValidity.toHours() > 720) {
            throw new IllegalArgumentException("--admin-password-hours must be between 1 and 720");
        }
        if (org.carevisor.manager.secrets.PrivateFiles.within(c.keyDir, dataDir)) {
            throw new IllegalArgumentException("--key-dir " + c.keyDir + " must lie outside the data directory "
                    + dataDir + ": the keys are kept apart from the database and its backups");
        }
        if (org.carevisor.manager.secrets.PrivateFiles.within(c.auditAnchor, dataDir)) {
            throw new IllegalArgumentException("--audit-anchor " + c.auditAnchor + " must lie outside the data"
                    + " directory " + dataDir + " (another volume, an append-only file, or a copy shipped away)");
        }
        if (c.haBootWindow.toSeconds() > 86400) {
            throw new IllegalArgumentException("--ha-boot-window-seconds must be between 0 and 86400 (one day), not "
                    + c.haBootWindow.toSeconds());
        }
        if (c.migrationBootSettle.toSeconds() > 600) {
            throw new IllegalArgumentException("--migration-boot-settle-seconds must be between 0 and 600, not "
                    + c.migrationBootSettle.toSeconds());
        }
        if (c.upsVmTimeoutSeconds > 3600) {
            throw new IllegalArgumentException("--ups-vm-timeout-seconds must be between 0 and 3600, not "
                    + c.upsVmTimeoutSeconds);
        }
        org.carevisor.manager.audit.SyslogSink.parse(c.auditSyslog);
        if (c.guestPortFrom < 1024 || c.guestPortTo > 65535 || c.guestPortFrom > c.guestPortTo) {
            throw new IllegalArgumentException("--guest-port-range must lie within 1024-65535 and start <= end");
        }
        return c;
    }

    /** Empty: only a critical UPS starts a shutdown; else 10-86400 seconds on battery. */
    private static Duration upsOnBattery(String value) {
        if (value.isEmpty()) {
            return null;
        }
        long n = number(value, "--ups-on-battery-seconds");
        if (n < 10 || n > 86400) {
            throw new IllegalArgumentException("--ups-on-battery-seconds must be between 10 and 86400 (or left out:"
                    + " shut down only when the UPS reports battery low), not " + n);
        }
        return Duration.ofSeconds(n);
    }

    private static long number(String value, String option) {
        try {
            long n = Long.parseLong(value.strip());
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // named below
        }
        throw new IllegalArgumentException(option + " must be a whole number of seconds (0 or more), not '" + value + "'");
    }

    private static boolean bool(String value, String option) {
        if (value.equals("true") || value.equals("false")) {
            return Boolean.parseBoolean(value);
        }
        throw new IllegalArgumentException(option + " must be true or false, not '" + value + "'");
    }
}
