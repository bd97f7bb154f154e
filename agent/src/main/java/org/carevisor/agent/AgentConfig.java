package org.carevisor.agent;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Settings of one agent. Every setting has a command-line option and an environment variable
 * (documented in docs/operations.md); defaults work on one machine.
 *
 * @param stateDir       agent-local state: host id, one directory per VM (sockets, console log)
 * @param storageDir     storage root holding images/ and vms/ (shared between hosts in a cluster)
 * @param listenAddress  address the agent API listens on
 * @param listenPort     port of the agent API (0 picks a free one)
 * @param managerUrl     manager base URL that reports go to (null: no reports)
 * @param hostName       name of the host shown to operators
 * @param qemuBinary     qemu-system-x86_64
 * @param qemuImgBinary  qemu-img
 * @param accelerator    {@code auto} (probe KVM), {@code kvm} or {@code tcg}
 * @param forwardAddress host address guest port forwards listen on
 * @param reportInterval heartbeat period
 * @param sandbox        run QEMU with its seccomp sandbox
 * @param joinToken      one-time token for the first enrollment
 * @param caFingerprint  SHA-256 of the manager's CA, pinned at enrollment ({@code sha256:<hex>})
 * @param tlsDir         where the agent's key, certificate and the CA certificate are kept
 * @param advertise      address or name the manager uses to reach this agent (in its certificate)
 * @param localStorageDir storage of this host only (disks of VMs that cannot move)
 * @param migrationAddress address this host receives live migrations on
 * @param migrationPortFrom first port for incoming live migrations
 * @param migrationPortTo  last port for incoming live migrations
 * @param haWatchdog     run the HA watchdog process, which kills this host's HA VMs when the agent stops
 *                       renewing its storage lease (on by default; {@code false} only for tests and hosts
 *                       that run no HA VMs)
 * @param haKeeperTime   how long the watchdog keeps the storage lease after the agent stopped in order (it writes
 *                       leases the agent signed ahead; then it kills the HA VMs): the longest agent upgrade
 * @param powerOffAction what this host does at the end of a site shutdown, after all its VMs stopped:
 *                       {@code none} (default: stays on), {@code exit} (the agent ends; labs) or {@code poweroff}
 */
public record AgentConfig(Path stateDir, Path storageDir, String listenAddress, int listenPort, String managerUrl,
                          String hostName, String qemuBinary, String qemuImgBinary, String accelerator,
                          String forwardAddress, Duration reportInterval, boolean sandbox, String joinToken,
                          String caFingerprint, Path tlsDir, String advertise, Path localStorageDir,
                          String migrationAddress, int migrationPortFrom, int migrationPortTo, boolean haWatchdog,
                          Duration haKeeperTime, org.carevisor.agent.host.HostPowerOff.Action powerOffAction) {

    /** Parses {@code --name value} options, falling back to CAREVISOR_AGENT_* environment variables. */
    public static AgentConfig parse(String[] args, Map<String, String> env) {
        Map<String, String> opts = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument '" + a + "'; options look like --state-dir DIR");
            }
            String key = a.substring(2);
            String value;
            int eq = key.indexOf('=');
            if (eq >= 0) {
                value = key.substring(eq + 1);
                key = key.substring(0, eq);
            } else {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("option --" + key + " needs a value");
                }
                value = args[++i];
            }
            opts.put(key, value);
        }
        Settings s = new Settings(opts, env);
        Path stateDir = Path.of(s.get("state-dir", "var/agent")).toAbsolutePath();
        String listen = s.get("listen", "127.0.0.1");
        String advertise = s.get("advertise", listen.equals("0.0.0.0") ? defaultHostName() : listen);
        int[] migrationPorts = range(s.get("migration-ports", "49152-49215"), "--migration-ports");
        AgentConfig config = new AgentConfig(
                stateDir,
                Path.of(s.get("storage-dir", "var/storage")).toAbsolutePath(),
                listen,
                Integer.parseInt(s.get("port", "7701")),
                s.getOrNull("manager-url"),
                s.get("host-name", defaultHostName()),
                s.get("qemu", "qemu-system-x86_64"),
                s.get("qemu-img", "qemu-img"),
                s.get("accel", "auto"),
                s.get("forward-address", "127.0.0.1"),
                Duration.ofMillis(Long.parseLong(s.get("report-interval-ms", "1000"))),
                Boolean.parseBoolean(s.get("sandbox", "true")),
                s.getOrNull("join-token"),
                s.getOrNull("ca-fingerprint"),
                Path.of(s.get("tls-dir", stateDir.resolve("tls").toString())).toAbsolutePath(),
                advertise,
                Path.of(s.get("local-storage-dir", stateDir.resolve("local-storage").toString())).toAbsolutePath(),
                s.get("migration-address", advertise),
                migrationPorts[0],
                migrationPorts[1],
                bool(s.get("ha-watchdog", "true"), "--ha-watchdog"),
                Duration.ofMinutes(minutes(s.get("ha-keeper-minutes", "60"), "--ha-keeper-minutes", 1, 1440)),
                org.carevisor.agent.host.HostPowerOff.Action.parse(s.get("power-off-action", "none")));
        s.rejectUnknown();
        address(config.advertise, "--advertise");
        address(config.migrationAddress, "--migration-address");
        if (!config.accelerator.equals("auto") && !config.accelerator.equals("kvm")
                && !config.accelerator.equals("tcg")) {
            throw new IllegalArgumentException("--accel must be auto, kvm or tcg, not '" + config.accelerator + "'");
        }
        return config;
    }

    /** An address the manager and peers reach this host at: an IP address or DNS name, nothing else. */
    private static void address(String value, String option) {
        try {
            org.carevisor.protocol.HostAddress.parse(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(option + " " + e.getMessage()
                    + (option.equals("--advertise") ? " (the default is --listen, or the host name for 0.0.0.0)" : ""));
        }
    }

    private static boolean bool(String value, String option) {
        if (value.equals("true") || value.equals("false")) {
            return Boolean.parseBoolean(value);
        }
        throw new IllegalArgumentException(option + " must be true or false, not '" + value + "'");
    }

    private static long minutes(String value, String option, long min, long max) {
        try {
            long n = Long.parseLong(value.strip());
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(option + " must be a number of minutes from " + min + " to " + max
                + ", not '" + value + "'");
    }

    private static int[] range(String value, String option) {
        String[] parts = value.split("-", -1);
        try {
            int from = Integer.parseInt(parts[0].strip());
            int to = Integer.parseInt(parts[parts.length - 1].strip());
            if (parts.length <= 2 && from >= 1024 && from <= to && to <= 65535) {
                return new int[] {from, to};
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(option + " must be a port range A-B between 1024 and 65535, not '"
                + value + "'");
    }

    private static String defaultHostName() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            return "localhost";
        }
    }

    /** Reads options first, then environment variables named CAREVISOR_AGENT_OPTION_NAME. */
    private static final class Settings {
        private final Map<String, String> opts;
        private final Map<String, String> env;
        private final java.util.Set<String> known = new java.util.HashSet<>();

        Settings(Map<String, String> opts, Map<String, String> env) {
            this.opts = opts;
            this.env = env;
        }

        String getOrNull(String key) {
            known.add(key);
            String v = opts.get(key);
            if (v == null) {
                v = env.get("CAREVISOR_AGENT_" + key.toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
            }
            return v == null || v.isEmpty() ? null : v;
        }

        String get(String key, String fallback) {
            String v = getOrNull(key);
            return v == null ? fallback : v;
        }

        void rejectUnknown() {
            for (String k : opts.keySet()) {
                if (!known.contains(k)) {
                    throw new IllegalArgumentException("unknown option --" + k + "; known: --"
                            + String.join(", --", new java.util.TreeSet<>(known)));
                }
            }
        }
    }
}
