package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor cluster list|show|create|set|delete|recommendation|ha}. */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = "Clusters: hosts with one CPU baseline, one shared storage and one criticality class.",
        subcommands = {ClusterCommand.ListClusters.class, ClusterCommand.Show.class, ClusterCommand.Create.class,
                ClusterCommand.Set.class, ClusterCommand.Delete.class, ClusterCommand.Recommendation.class,
                HaSettingsCommands.ClusterHa.class})
final class ClusterCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        ListClusters.print(root);
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List clusters.")
    static final class ListClusters implements Runnable {
        @ParentCommand
        ClusterCommand parent;

        @Override
        public void run() {
            print(parent.root);
        }

        static void print(CarevisorCli root) {
            JsonNode list = root.api().get("/api/v1/clusters");
            if (root.json) {
                root.printJson(list);
                return;
            }
            Table t = new Table("NAME", "CRITICALITY", "CPU MODEL", "OVERCOMMIT CPU/MEM", "BALANCER", "HOSTS", "VMS");
            for (JsonNode c : list) {
                t.row(c.path("name").asText(), c.path("criticality").asText(), c.path("cpuModel").asText(),
                        c.path("cpuOvercommit").asDouble() + "/" + c.path("memoryOvercommit").asDouble(),
                        c.path("balancer").path("mode").asText() + " >" + c.path("balancer").path("thresholdPercent")
                                .asInt() + "%", String.join(",", Format.strings(c.path("hosts"))),
                        c.path("vmCount").asInt());
            }
            t.print(root.out);
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one cluster.")
    static final class Show implements Runnable {
        @ParentCommand
        ClusterCommand parent;

        @Parameters(paramLabel = "CLUSTER", description = "cluster id or name")
        String cluster;

        @Override
        public void run() {
            JsonNode c = parent.root.api().get("/api/v1/clusters/" + Format.path(cluster));
            if (parent.root.json) {
                parent.root.printJson(c);
            } else {
                Format.fields(parent.root.out, c);
            }
        }
    }

    /** Options shared by create and set. */
    static final class Settings {
        @Option(names = "--description", description = "free text")
        String description;

        @Option(names = "--cpu-model", description = "CPU model baseline (every host must offer it), e.g. qemu64")
        String cpuModel;

        @Option(names = "--criticality", description = "critical, high, standard or low")
        String criticality;

        @Option(names = "--cpu-overcommit", paramLabel = "RATIO", description = "vCPUs per host CPU (0.5-16)")
        Double cpuOvercommit;

        @Option(names = "--memory-overcommit", paramLabel = "RATIO", description = "guest memory per host memory (0.5-2)")
        Double memoryOvercommit;

        @Option(names = "--migration-bandwidth", paramLabel = "MiBps", description = "live migration bandwidth limit")
        Integer bandwidth;

        @Option(names = "--migration-downtime", paramLabel = "MS", description = "longest planned guest pause")
        Integer downtime;

        @Option(names = "--auto-converge", negatable = true, description = "slow down busy guests so migration finishes")
        Boolean autoConverge;

        @Option(names = "--max-parallel-migrations", paramLabel = "N", description = "migrations at once (1-8)")
        Integer maxParallel;

        @Option(names = "--migration-timeout", paramLabel = "SECONDS", description = "cancel a migration after this")
        Integer timeout;

        @Option(names = "--balancer", paramLabel = "MODE", description = "off, recommend or automatic")
        String balancer;

        @Option(names = "--balancer-threshold", paramLabel = "PERCENT",
                description = "move VMs when host memory loads differ by more than this")
        Integer threshold;

        @Option(names = "--balancer-interval", paramLabel = "SECONDS", description = "how often the balancer looks")
        Integer interval;

        @Option(names = "--balancer-cooldown", paramLabel = "MINUTES", description = "a moved VM stays this long")
        Integer cooldown;

        ObjectNode body(String name) {
            ObjectNode b = ApiClient.json().createObjectNode();
            putIf(b, "name", name);
            putIf(b, "description", description);
            putIf(b, "cpuModel", cpuModel);
            putIf(b, "criticality", criticality);
            if (cpuOvercommit != null) {
                b.put("cpuOvercommit", cpuOvercommit);
            }
            if (memoryOvercommit != null) {
                b.put("memoryOvercommit", memoryOvercommit);
            }
            if (bandwidth != null || downtime != null || autoConverge != null || maxParallel != null || timeout != null) {
                ObjectNode m = b.putObject("migration");
                putIf(m, "bandwidthMiBps", bandwidth);
                putIf(m, "downtimeLimitMs", downtime);
                if (autoConverge != null) {
                    m.put("autoConverge", autoConverge);
                }
                putIf(m, "maxParallel", maxParallel);
                putIf(m, "timeoutSeconds", timeout);
            }
            if (balancer != null || threshold != null || interval != null || cooldown != null) {
                ObjectNode m = b.putObject("balancer");
                putIf(m, "mode", balancer);
                putIf(m, "thresholdPercent", threshold);
                putIf(m, "intervalSeconds", interval);
                putIf(m, "cooldownMinutes", cooldown);
            }
            return b;
        }

        private static void putIf(ObjectNode b, String field, Object value) {
            if (value instanceof String s) {
                b.put(field, s);
            } else if (value instanceof Integer i) {
                b.put(field, i);
            }
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a cluster.")
    static final class Create implements Runnable {
        @ParentCommand
        ClusterCommand parent;

        @Parameters(paramLabel = "NAME", description = "cluster name")
        String name;

        @picocli.CommandLine.Mixin
        Settings settings = new Settings();

        @Override
        public void run() {
            JsonNode c = parent.root.api().post("/api/v1/clusters", settings.body(name));
            if (parent.root.json) {
                parent.root.printJson(c);
            } else {
                parent.root.out.println("cluster " + c.path("name").asText() + " created (" + c.path("id").asText()
                        + "); add hosts with: carevisor host set HOST --cluster " + c.path("name").asText());
            }
        }
    }

    @Command(name = "set", mixinStandardHelpOptions = true, description = "Change a cluster's settings.")
    static final class Set implements Runnable {
        @ParentCommand
        ClusterCommand parent;

        @Parameters(paramLabel = "CLUSTER", description = "cluster id or name")
        String cluster;

        @Option(names = "--name", description = "new name")
        String name;

        @picocli.CommandLine.Mixin
        Settings settings = new Settings();

        @Override
        public void run() {
            JsonNode c = parent.root.api().patch("/api/v1/clusters/" + Format.path(cluster), settings.body(name));
            if (parent.root.json) {
                parent.root.printJson(c);
            } else {
                Format.fields(parent.root.out, c);
            }
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete an empty cluster.")
    static final class Delete implements Runnable {
        @ParentCommand
        ClusterCommand parent;

        @Parameters(paramLabel = "CLUSTER", description = "cluster id or name")
        String cluster;

        @Override
        public void run() {
            parent.root.api().delete("/api/v1/clusters/" + Format.path(cluster));
            parent.root.out.println("cluster " + cluster + " deleted");
        }
    }

    @Command(name = "recommendation", mixinStandardHelpOptions = true,
            description = "The balancer's current recommendation (--now: evaluate at once).")
    static final class Recommendation implements Runnable {
        @ParentCommand
        ClusterCommand parent;

        @Parameters(paramLabel = "CLUSTER", description = "cluster id or name")
        String cluster;

        @Option(names = "--now", description = "evaluate now (in automatic mode this starts the move)")
        boolean now;

        @Override
        public void run() {
            JsonNode list = parent.root.api().get("/api/v1/clusters/" + Format.path(cluster) + "/recommendations"
                    + (now ? "?evaluate=true" : ""));
            if (parent.root.json) {
                parent.root.printJson(list);
            } else if (list.isEmpty()) {
                parent.root.out.println("no move recommended: the hosts' loads are within the threshold");
            } else {
                for (JsonNode r : list) {
                    parent.root.out.println("move " + r.path("vm").asText() + " from " + r.path("from").asText() + " to "
                            + r.path("to").asText() + ": " + r.path("why").asText()
                            + (r.hasNonNull("taskId") ? " (started: task " + r.path("taskId").asText() + ")" : ""));
                }
            }
        }
    }
}
