package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code carevisor vm ha}, {@code cluster ha} and {@code host fence}: the high-availability settings of VMs,
 * clusters and hosts. Without change options they show the settings; with them they change only what is given.
 * The reason (--reason) travels in the Carevisor-Reason header, as with the other changes of settings.
 */
final class HaSettingsCommands {
    private HaSettingsCommands() {
    }

    /** GET the settings when {@code body} is empty, else PATCH them; prints the result as JSON or lines. */
    static void showOrChange(CarevisorCli root, String path, ObjectNode body) {
        JsonNode settings = body.isEmpty() ? root.api().get(path) : root.api().patch(path, body);
        if (root.json) {
            root.printJson(settings);
        } else {
            print(root.out, settings);
        }
    }

    /** Prints settings as "key: value" lines: lists joined (or "(none)"), null as "-", nested values as JSON. */
    static void print(PrintStream out, JsonNode node) {
        int width = 0;
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            width = Math.max(width, it.next().length());
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            String text = v.isNull() ? "-" : v.isArray() ? (v.isEmpty() ? "(none)" : String.join(", ", Format.strings(v)))
                    : v.isValueNode() ? v.asText() : v.toString();
            out.println(e.getKey() + ":" + " ".repeat(width - e.getKey().length() + 1) + text);
        }
    }

    @Command(name = "ha", mixinStandardHelpOptions = true, description = {
            "Show or change a VM's high-availability (HA) settings.",
            "Only the options given are changed. An HA VM is restarted automatically when",
            "its host fails or its QEMU dies: higher --priority first, after the VMs it",
            "--depends-on. Example:",
            "  carevisor vm ha db-1 --enable --priority 80 --depends-on dns-1 \\",
            "      --health-check tcp:5432 --reason \"CHG-1234\""})
    static final class VmHa implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "VM", description = "VM id or name")
        String vm;

        @ArgGroup(exclusive = true)
        Enabled enabled;

        static final class Enabled {
            @Option(names = "--enable", required = true, description = "protect the VM: restart it automatically")
            boolean enable;

            @Option(names = "--disable", required = true, description = "no automatic restarts")
            boolean disable;
        }

        @Option(names = "--priority", paramLabel = "N", description = "restart order 0..100, higher first (default 50)")
        Integer priority;

        @Option(names = "--depends-on", paramLabel = "VM[,VM...]",
                description = "VMs that must run before this one is restarted, replacing the list; \"\" clears it")
        String dependsOn;

        @ArgGroup(exclusive = true)
        HealthCheck health;

        static final class HealthCheck {
            @Option(names = "--health-check", required = true, paramLabel = "tcp:PORT|http:PORT/PATH",
                    description = "check the guest's service, e.g. tcp:22 or http:80/health; failures restart the VM")
            String check;

            @Option(names = "--no-health-check", required = true, description = "remove the health check")
            boolean none;
        }

        @Option(names = "--health-interval", paramLabel = "SECONDS", description = "check this often (1..3600)")
        Integer healthInterval;

        @Option(names = "--health-failures", paramLabel = "N",
                description = "failed checks in a row before the VM is restarted (1..100)")
        Integer healthFailures;

        @Option(names = "--max-restarts-per-hour", paramLabel = "N",
                description = "restarts on its own host (crash, failed check) per hour (0..100)")
        Integer maxRestarts;

        /** The PATCH body: only the fields of the options given. */
        ObjectNode body() {
            ObjectNode b = ApiClient.json().createObjectNode();
            if (enabled != null) {
                b.put("enabled", enabled.enable);
            }
            if (priority != null) {
                b.put("priority", priority);
            }
            if (dependsOn != null) {
                ArrayNode a = b.putArray("dependsOn");
                for (String name : dependsOn.split(",")) {
                    if (!name.isBlank()) {
                        a.add(name.strip());
                    }
                }
            }
            if (health != null) {
                if (health.none) {
                    b.put("healthCheck", "");
                } else if (health.check.isBlank()) {
                    throw new CliException(ExitCodes.USAGE, "--health-check is empty; give tcp:PORT or http:PORT/PATH,"
                            + " or remove the check with --no-health-check");
                } else {
                    b.put("healthCheck", health.check.strip());
                }
            }
            if (healthInterval != null) {
                b.put("healthIntervalSeconds", healthInterval);
            }
            if (healthFailures != null) {
                b.put("healthFailures", healthFailures);
            }
            if (maxRestarts != null) {
                b.put("maxRestartsPerHour", maxRestarts);
            }
            return b;
        }

        @Override
        public void run() {
            CarevisorCli root = parent.root;
            String path = "/api/v1/vms/" + Format.path(vm) + "/ha";
            showOrChange(root, path, body());
        }
    }

    @Command(name = "ha", mixinStandardHelpOptions = true, description = {
            "Show or change a cluster's high-availability (HA) settings.",
            "Only the options given are changed. Example:",
            "  carevisor cluster ha default --admission-control on \\",
            "      --isolation-response power-off --reason \"CHG-1234\""})
    static final class ClusterHa implements Runnable {
        static final List<String> ISOLATION = List.of("power-off", "leave-running");

        @ParentCommand
        ClusterCommand parent;

        @Parameters(paramLabel = "CLUSTER", description = "cluster id or name")
        String cluster;

        @Option(names = "--admission-control", paramLabel = "on|off", description = "on: refuse starts that would"
                + " leave too little free memory to restart the HA VMs of any one failed host")
        String admissionControl;

        @Option(names = "--isolation-response", paramLabel = "power-off|leave-running",
                description = "what a host cut off from the manager and its peers does with its HA VMs")
        String isolationResponse;

        ObjectNode body() {
            ObjectNode b = ApiClient.json().createObjectNode();
            if (admissionControl != null) {
                b.put("admissionControl", switch (admissionControl.strip().toLowerCase(java.util.Locale.ROOT)) {
                    case "on", "true" -> true;
                    case "off", "false" -> false;
                    default -> throw new CliException(ExitCodes.USAGE, "--admission-control must be on or off, not '"
                            + admissionControl + "'");
                });
            }
            if (isolationResponse != null) {
                if (!ISOLATION.contains(isolationResponse)) {
                    throw new CliException(ExitCodes.USAGE, "--isolation-response must be power-off or leave-running,"
                            + " not '" + isolationResponse + "'");
                }
                b.put("isolationResponse", isolationResponse);
            }
            return b;
        }

        @Override
        public void run() {
            CarevisorCli root = parent.root;
            String path = "/api/v1/clusters/" + Format.path(cluster) + "/ha";
            showOrChange(root, path, body());
        }
    }

    @Command(name = "fence", mixinStandardHelpOptions = true, description = {
            "Show or set how a failed host is fenced before its HA VMs restart elsewhere.",
            "Setting --kind replaces all fence settings of the host. The BMC password is",
            "never taken from the command line (other users can read it there): name an",
            "environment variable holding it (--password-env), a file (--password-file),",
            "or give it on standard input (--password-stdin). The manager never shows it.",
            "Examples:",
            "  carevisor host fence h1 --kind ipmi --address 10.0.9.21 --user admin \\",
            "      --password-env BMC_PW",
            "  carevisor host fence h2 --kind redfish --address https://10.0.9.22 \\",
            "      --user admin --password-file /root/bmc-h2.pw --ca-file bmc-ca.pem",
            "  carevisor host fence lab-h1 --kind lab --namespace cvl1h1",
            "  carevisor host fence h1 --kind none --reason \"BMC replaced\""})
    static final class Fence implements Runnable {
        static final List<String> KINDS = List.of("none", "ipmi", "redfish", "lab");

        @ParentCommand
        HostCommand parent;

        @Parameters(paramLabel = "HOST", description = "host id or name")
        String host;

        @Option(names = "--kind", paramLabel = "none|ipmi|redfish|lab",
                description = "the fence agent; none removes fencing")
        String kind;

        @Option(names = "--address", paramLabel = "ADDRESS",
                description = "ipmi: the BMC's host name or IP; redfish: its https URL, e.g. https://10.0.9.21")
        String address;

        @Option(names = {"--user", "--username"}, paramLabel = "USER", description = "ipmi, redfish: the BMC user")
        String user;

        @ArgGroup(exclusive = true)
        Password password;

        static final class Password {
            @Option(names = "--password-env", required = true, paramLabel = "VAR",
                    description = "ipmi, redfish: read the BMC password from this environment variable")
            String env;

            @Option(names = "--password-file", required = true, paramLabel = "FILE",
                    description = "ipmi, redfish: read the BMC password from this file (its first line)")
            Path file;

            @Option(names = "--password-stdin", required = true,
                    description = "ipmi, redfish: read the BMC password from one line of standard input")
            boolean stdin;

            /** Refuses a password typed on the command line, saying what to do instead. */
            @Option(names = "--password", required = true, hidden = true, paramLabel = "PASSWORD")
            String plain;
        }

        @Option(names = "--system", paramLabel = "ID", description = "redfish: the system id on the BMC (default 1)")
        String system;

        @Option(names = "--ca-file", paramLabel = "FILE",
                description = "redfish: CA certificate (PEM) the BMC's certificate must chain to")
        Path caFile;

        @Option(names = "--namespace", paramLabel = "NS", description = "lab: the lab host's network namespace")
        String namespace;

        /** The PATCH body, or null when only showing; checks the options of the kind. */
        ObjectNode body(CarevisorCli root) {
            if (password != null && password.plain != null) {
                throw new CliException(ExitCodes.USAGE, "--password is not accepted: a password on the command line"
                        + " can be read by other users (ps, shell history); use --password-env VAR, --password-file"
                        + " FILE or --password-stdin");
            }
            Map<String, Boolean> given = new LinkedHashMap<>();
            given.put("--address", address != null);
            given.put("--user", user != null);
            given.put("--password-env/--password-file/--password-stdin", password != null);
            given.put("--system", system != null);
            given.put("--ca-file", caFile != null);
            given.put("--namespace", namespace != null);
            if (kind == null) {
                List<String> options = given.entrySet().stream().filter(Map.Entry::getValue).map(Map.Entry::getKey)
                        .toList();
                if (!options.isEmpty()) {
                    throw new CliException(ExitCodes.USAGE, String.join(", ", options) + " without --kind; give"
                            + " --kind ipmi, redfish, lab or none");
                }
                return null;
            }
            Set<String> allowed = switch (kind) {
                case "none" -> Set.of();
                case "ipmi" -> Set.of("--address", "--user", "--password-env/--password-file/--password-stdin");
                case "redfish" -> Set.of("--address", "--user", "--password-env/--password-file/--password-stdin",
                        "--system", "--ca-file");
                case "lab" -> Set.of("--namespace");
                default -> throw new CliException(ExitCodes.USAGE, "--kind must be none, ipmi, redfish or lab, not '"
                        + kind + "'");
            };
            List<String> wrong = new ArrayList<>();
            List<String> missing = new ArrayList<>();
            given.forEach((option, present) -> {
                if (present && !allowed.contains(option)) {
                    wrong.add(option);
                }
                if (!present && allowed.contains(option) && (option.equals("--address") || option.equals("--user")
                        || option.startsWith("--password") || option.equals("--namespace"))) {
                    missing.add(option);
                }
            });
            if (!wrong.isEmpty()) {
                throw new CliException(ExitCodes.USAGE, "--kind " + kind + " takes no " + String.join(", ", wrong));
            }
            if (!missing.isEmpty()) {
                throw new CliException(ExitCodes.USAGE, "--kind " + kind + " needs " + String.join(", ", missing));
            }
            ObjectNode b = ApiClient.json().createObjectNode().put("kind", kind);
            switch (kind) {
                case "ipmi", "redfish" -> {
                    b.put("address", address);
                    b.put("username", user);
                    b.put("password", password(root));
                    if (system != null) {
                        b.put("target", system);
                    }
                    if (caFile != null) {
                        b.put("caPem", caPem(caFile));
                    }
                }
                case "lab" -> b.put("target", namespace);
                default -> {
                }
            }
            return b;
        }

        /** The BMC password from the variable, file or standard input named; never from the command line. */
        String password(CarevisorCli root) {
            String p;
            if (password.env != null) {
                String name = password.env;
                p = root.env.apply(name);
                if (p == null) {
                    throw new CliException(ExitCodes.USAGE, "--password-env: the environment variable " + name
                            + " is not set; export it with the BMC password first (e.g. read -rs " + name + "; export "
                            + name + ")");
                }
                if (p.isEmpty()) {
                    throw new CliException(ExitCodes.USAGE, "--password-env: the environment variable " + name
                            + " is empty");
                }
                return p;
            }
            if (password.file != null) {
                Path file = password.file;
                try {
                    p = Files.readString(file, StandardCharsets.UTF_8);
                } catch (NoSuchFileException e) {
                    throw new CliException(ExitCodes.USAGE, "--password-file: " + file + " does not exist");
                } catch (IOException e) {
                    throw new CliException(ExitCodes.USAGE, "--password-file: cannot read " + file + ": " + e.getMessage());
                }
                warnIfOthersCanRead(root, file);
                p = firstLine(p);
                if (p.isEmpty()) {
                    throw new CliException(ExitCodes.USAGE, "--password-file: " + file + " is empty");
                }
                return p;
            }
            p = root.stdinLine();
            if (p == null || p.isEmpty()) {
                throw new CliException(ExitCodes.USAGE, "--password-stdin: standard input held no password");
            }
            return p;
        }

        /** The text up to the first line break (a password file usually ends with one). */
        static String firstLine(String s) {
            int end = s.indexOf('\n');
            String line = end < 0 ? s : s.substring(0, end);
            return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
        }

        private static void warnIfOthersCanRead(CarevisorCli root, Path file) {
            try {
                Set<PosixFilePermission> p = Files.getPosixFilePermissions(file);
                if (p.contains(PosixFilePermission.GROUP_READ) || p.contains(PosixFilePermission.OTHERS_READ)) {
                    root.err.println("carevisor: warning: " + file + " can be read by other users; chmod 600 it");
                }
            } catch (IOException | UnsupportedOperationException e) {
                // not a POSIX file system: nothing to check
            }
        }

        private static String caPem(Path file) {
            String pem;
            try {
                pem = Files.readString(file, StandardCharsets.UTF_8);
            } catch (NoSuchFileException e) {
                throw new CliException(ExitCodes.USAGE, "--ca-file: " + file + " does not exist");
            } catch (IOException e) {
                throw new CliException(ExitCodes.USAGE, "--ca-file: cannot read " + file + ": " + e.getMessage());
            }
            if (!pem.contains("-----BEGIN CERTIFICATE-----")) {
                throw new CliException(ExitCodes.USAGE, "--ca-file: " + file + " holds no PEM certificate"
                        + " (-----BEGIN CERTIFICATE-----)");
            }
            return pem;
        }

        @Override
        public void run() {
            CarevisorCli root = parent.root;
            String path = "/api/v1/hosts/" + Format.path(host) + "/fence";
            ObjectNode body = body(root);
            JsonNode fence = body == null ? root.api().get(path) : root.api().patch(path, body);
            if (root.json) {
                root.printJson(fence);
                return;
            }
            ObjectNode shown = fence.deepCopy();
            if (shown.hasNonNull("caPem")) {
                int certs = shown.path("caPem").asText().split("-----BEGIN CERTIFICATE-----", -1).length - 1;
                shown.put("caPem", certs + " certificate" + (certs == 1 ? "" : "s") + " (PEM; --json shows it)");
            }
            print(root.out, shown);
        }
    }
}
