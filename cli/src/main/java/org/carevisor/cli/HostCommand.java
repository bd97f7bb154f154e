package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor host list|show}. */
@Command(name = "host", mixinStandardHelpOptions = true, description = "Hosts that run VMs.",
        subcommands = {HostCommand.ListHosts.class, HostCommand.Show.class, HostCommand.JoinToken.class,
                HostCommand.Remove.class})
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
            Table t = new Table("NAME", "STATUS", "CPUS", "MEMORY FREE/TOTAL", "STORAGE FREE", "ACCEL", "VMS", "ID");
            for (JsonNode h : hosts) {
                t.row(h.path("name").asText(), h.path("status").asText(), h.path("cpus").asInt(),
                        h.path("memoryAvailableMiB").asLong() + "/" + h.path("memoryMiB").asLong() + " MiB",
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
                "Create a join token; it is shown once and is good for one enrollment until it expires."})
        static final class Create implements Runnable {
            @ParentCommand
            JoinToken parent;

            @picocli.CommandLine.Option(names = "--ttl", paramLabel = "MINUTES", defaultValue = "60",
                    description = "how long the token is valid (default ${DEFAULT-VALUE}, at most 10080)")
            int ttl;

            @picocli.CommandLine.Option(names = "--agent-args",
                    description = "print only the agent options (--manager-url, --join-token, --ca-fingerprint)")
            boolean agentArgs;

            @Override
            public void run() {
                CarevisorCli root = parent.parent.root;
                JsonNode t = root.api().post("/api/v1/hosts/join-tokens",
                        ApiClient.json().createObjectNode().put("ttlMinutes", ttl));
                if (root.json) {
                    root.printJson(t);
                } else if (agentArgs) {
                    root.out.println(t.path("agentArguments").asText());
                } else {
                    root.out.println("join token:     " + t.path("token").asText() + "   (one use, valid until "
                            + t.path("expiresAt").asText() + ")");
                    root.out.println("CA fingerprint: " + t.path("caFingerprint").asText());
                    root.out.println("start the new host's agent with:");
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
                Table t = new Table("CREATED", "BY", "EXPIRES", "USED", "USED BY HOST", "ID");
                for (JsonNode x : list) {
                    t.row(x.path("createdAt").asText(), x.path("createdBy").asText(), x.path("expiresAt").asText(),
                            x.path("usedAt").asText("-"), x.path("usedByHost").asText("-"), x.path("id").asText());
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

        @picocli.CommandLine.Option(names = "--reason", description = "kept in the audit trail")
        String reason;

        @Override
        public void run() {
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
