package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor host list|show}. */
@Command(name = "host", mixinStandardHelpOptions = true, description = "Hosts that run VMs.",
        subcommands = {HostCommand.ListHosts.class, HostCommand.Show.class, HostCommand.Set.class,
                HostCommand.Maintenance.class, HostCommand.JoinToken.class, HostCommand.Remove.class,
                HaSettingsCommands.Fence.class})
final class HostCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        new ListHosts().print(root);
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List hosts.")
    static final class ListHosts implements Runnable {
        @ParentCommand
        HostCommand parent;

        @Override
        public void run() {
            print(parent.root);
        }

        void print(CarevisorCli root) {
            JsonNode hosts = root.api().get("/api/v1/hosts");
            if (root.json) {
                root.printJson(hosts);
                return;
            }
            Table t = new Table("NAME", "STATUS", "CLUSTER", "MAINTENANCE", "TAGS", "CPUS", "MEMORY USED/TOTAL",
                    "STORAGE FREE", "ACCEL", "VMS", "ID");
            for (JsonNode h : hosts) {
                java.util.List<String> tags = Format.strings(h.path("tags"));
                t.row(h.path("name").asText(), h.path("status").asText(), h.path("cluster").asText(),
                        h.path("maintenance").asText("none"), tags.isEmpty() ? "-" : String.join(",", tags),
                        h.path("committedCpus").asInt() + "/" + h.path("cpus").asInt(),
                        h.path("committedMemoryMiB").asLong() + "/" + h.path("memoryMiB").asLong() + " MiB",
                        Format.bytes(h.path("storageFreeBytes").asLong()), h.path("accelerator").asText(),
                        h.path("runningVms").asInt() + " running/" + h.path("vmCount").asInt(), h.path("id").asText());
            }
            t.print(root.out);
            for (JsonNode h : hosts) {
                for (JsonNode w : h.path("warnings")) {
                    root.out.println("warning (" + h.path("name").asText() + "): " + w.asText());
                }
            }
        }
    }

    @Command(name = "join-token", mixinStandardHelpOptions = true,
            description = "One-time tokens with which a new host's agent enrolls (gets its certificate).",
            subcommands = {JoinToken.Create.class, JoinToken.ListTokens.class})
    static final class JoinToken {
        @ParentCommand
        HostCommand parent;

        @Command(name = "create", mixinStandardHelpOptions = true, description = {
                "Create a join token; it is shown once and is good for one enrollment until it expires.",
                "Without --host it adds a new host (the manager assigns its id); with --host it enrolls that",
                "existing host again (lost certificate, reinstall) and its old certificate is revoked."})
        static final class Create implements Runnable {
            @ParentCommand
            JoinToken parent;

            @picocli.CommandLine.Option(names = "--ttl", paramLabel = "MINUTES", defaultValue = "60",
                    description = "how long the token is valid (default ${DEFAULT-VALUE}, at most 10080)")
            int ttl;

            @picocli.CommandLine.Option(names = "--agent-args",
                    description = "print only the agent options (--manager-url, --join-token, --ca-fingerprint)")
            boolean agentArgs;

            @picocli.CommandLine.Option(names = "--cluster", description = "cluster the host joins (default: default)")
            String cluster;

            @picocli.CommandLine.Option(names = "--host", paramLabel = "HOST",
                    description = "an existing host (name or id) this token enrolls again; nothing else can use it")
            String host;

            @Override
            public void run() {
                CarevisorCli root = parent.parent.root;
                com.fasterxml.jackson.databind.node.ObjectNode body = ApiClient.json().createObjectNode()
                        .put("ttlMinutes", ttl);
                if (cluster != null) {
                    body.put("cluster", cluster);
                }
                if (host != null) {
                    body.put("host", host);
                }
                JsonNode t = root.api().post("/api/v1/hosts/join-tokens", body);
                if (root.json) {
                    root.printJson(t);
                } else if (agentArgs) {
                    root.out.println(t.path("agentArguments").asText());
                } else {
                    root.out.println("join token:     " + t.path("token").asText() + "   (one use, valid until "
                            + t.path("expiresAt").asText() + ")");
                    root.out.println("CA fingerprint: " + t.path("caFingerprint").asText());
                    if (t.hasNonNull("hostName")) {
                        root.out.println("for host:       " + t.path("hostName").asText() + " (" + t.path("host").asText()
                                + "); its current certificate is revoked when the token is used");
                        root.out.println("start its agent (without tls/agent.key and tls/agent.crt) with:");
                    } else {
                        root.out.println("start the new host's agent with:");
                    }
                    root.out.println("  carevisor-agent " + t.path("agentArguments").asText());
                }
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "Join tokens (never their secrets).")
        static final class ListTokens implements Runnable {
            @ParentCommand
            JoinToken parent;

            @Override
            public void run() {
                CarevisorCli root = parent.parent.root;
                JsonNode list = root.api().get("/api/v1/hosts/join-tokens");
                if (root.json) {
                    root.printJson(list);
                    return;
                }
                Table t = new Table("CREATED", "BY", "EXPIRES", "FOR HOST", "USED", "USED BY HOST", "ID");
                for (JsonNode x : list) {
                    t.row(x.path("createdAt").asText(), x.path("createdBy").asText(), x.path("expiresAt").asText(),
                            x.path("hostId").asText("(new host)"), x.path("usedAt").asText("-"),
                            x.path("usedByHost").asText("-"), x.path("id").asText());
                }
                t.print(root.out);
            }
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true,
            description = "Remove an empty host and revoke its certificate (it must enroll again to come back).")
    static final class Remove implements Runnable {
        @ParentCommand
        HostCommand parent;

        @Parameters(paramLabel = "HOST", description = "host id or name")
        String host;

        @Override
        public void run() {
            String reason = parent.root.reason;
            ApiClient api = parent.root.api();
            String path = "/api/v1/hosts/" + Format.path(host);
            if (reason != null) {
                api.deleteWithBody(path, ApiClient.json().createObjectNode().put("reason", reason));
            } else {
                api.delete(path);
            }
            parent.root.out.println("host " + host + " removed; its certificate is revoked");
        }
    }

    @Command(name = "set", mixinStandardHelpOptions = true, description = "Change a host's cluster, tags or settings.")
    static final class Set implements Runnable {
        @ParentCommand
        HostCommand parent;

        @Parameters(paramLabel = "HOST", description = "host id or name")
        String host;

        @picocli.CommandLine.Option(names = "--cluster", description = "move the (empty) host to this cluster")
        String cluster;

        @picocli.CommandLine.Option(names = "--tag", paramLabel = "TAG",
                description = "the host's tags, replacing the old ones (repeatable), e.g. --tag lic-pacs")
        java.util.List<String> tags;

        @picocli.CommandLine.Option(names = "--no-tags", description = "remove every tag")
        boolean noTags;

        @picocli.CommandLine.Option(names = "--reserved-memory", paramLabel = "MiB",
                description = "memory kept for the host itself")
        Integer reserved;

        @picocli.CommandLine.Option(names = "--description", description = "free text")
        String description;

        @Override
        public void run() {
            com.fasterxml.jackson.databind.node.ObjectNode b = ApiClient.json().createObjectNode();
            if (cluster != null) {
                b.put("cluster", cluster);
            }
            if (tags != null || noTags) {
                com.fasterxml.jackson.databind.node.ArrayNode a = b.putArray("tags");
                if (tags != null) {
                    tags.forEach(a::add);
                }
            }
            if (reserved != null) {
                b.put("reservedMemoryMiB", reserved);
            }
            if (description != null) {
                b.put("description", description);
            }
            JsonNode h = parent.root.api().patch("/api/v1/hosts/" + Format.path(host), b);
            if (parent.root.json) {
                parent.root.printJson(h);
            } else {
                parent.root.out.println("host " + h.path("name").asText() + ": cluster " + h.path("cluster").asText()
                        + ", tags " + (h.path("tags").isEmpty() ? "-" : String.join(",", Format.strings(h.path("tags"))))
                        + ", reserved memory " + h.path("reservedMemoryMiB").asInt() + " MiB");
            }
        }
    }

    @Command(name = "maintenance", mixinStandardHelpOptions = true,
            description = "Maintenance mode: the host takes no new VMs and its running VMs move away live.",
            subcommands = {Maintenance.Enter.class, Maintenance.Exit.class})
    static final class Maintenance {
        @ParentCommand
        HostCommand parent;

        @Command(name = "enter", mixinStandardHelpOptions = true, description = {
                "Put the host in maintenance and move its running VMs to other hosts (following the placement",
                "rules). VMs that cannot move are named with the reason; the host stays in maintenance."})
        static final class Enter implements Runnable {
            @ParentCommand
            Maintenance parent;

            @Parameters(paramLabel = "HOST", description = "host id or name")
            String host;

            @picocli.CommandLine.Mixin
            VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

            @Override
            public void run() {
                CarevisorCli root = parent.parent.root;
                com.fasterxml.jackson.databind.node.ObjectNode b = ApiClient.json().createObjectNode();
                if (root.reason != null) {
                    b.put("reason", root.reason);
                }
                Tasks.follow(root, root.api().post("/api/v1/hosts/" + Format.path(host) + "/maintenance", b),
                        !wait.noWait, wait.limit());
            }
        }

        @Command(name = "exit", mixinStandardHelpOptions = true, description = "Make the host available again.")
        static final class Exit implements Runnable {
            @ParentCommand
            Maintenance parent;

            @Parameters(paramLabel = "HOST", description = "host id or name")
            String host;

            @Override
            public void run() {
                CarevisorCli root = parent.parent.root;
                JsonNode h = root.api().delete("/api/v1/hosts/" + Format.path(host) + "/maintenance");
                if (root.json) {
                    root.printJson(h);
                } else {
                    root.out.println("host " + h.path("name").asText() + " left maintenance; it takes VMs again");
                }
            }
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one host.")
    static final class Show implements Runnable {
        @ParentCommand
        HostCommand parent;

        @Parameters(paramLabel = "HOST", description = "host id or name")
        String host;

        @Override
        public void run() {
            CarevisorCli root = parent.root;
            JsonNode h = root.api().get("/api/v1/hosts/" + Format.path(host));
            if (root.json) {
                root.printJson(h);
                return;
            }
            Format.fields(root.out, h);
        }
    }
}
