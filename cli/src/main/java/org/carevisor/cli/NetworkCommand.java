package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor network list|show|create|delete}. */
@Command(name = "network", mixinStandardHelpOptions = true,
        description = "VM networks: 'user' (port forwards) and bridged networks with fixed guest addresses.",
        subcommands = {NetworkCommand.ListNetworks.class, NetworkCommand.Show.class, NetworkCommand.Create.class,
                NetworkCommand.Delete.class})
final class NetworkCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        ListNetworks.print(root);
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List networks.")
    static final class ListNetworks implements Runnable {
        @ParentCommand
        NetworkCommand parent;

        @Override
        public void run() {
            print(parent.root);
        }

        static void print(CarevisorCli root) {
            JsonNode list = root.api().get("/api/v1/networks");
            if (root.json) {
                root.printJson(list);
                return;
            }
            Table t = new Table("NAME", "KIND", "BRIDGE", "CIDR", "GATEWAY", "POOL", "ADDRESSES USED");
            for (JsonNode n : list) {
                t.row(n.path("name").asText(), n.path("kind").asText(), n.path("bridge").asText("-"),
                        n.path("cidr").asText("-"), n.path("gateway").asText("-"),
                        n.hasNonNull("poolFrom") ? n.path("poolFrom").asText() + "-" + n.path("poolTo").asText() : "-",
                        n.has("addressesUsed") ? n.path("addressesUsed").asInt() + "/" + n.path("addressesTotal").asInt()
                                : "-");
            }
            t.print(root.out);
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one network.")
    static final class Show implements Runnable {
        @ParentCommand
        NetworkCommand parent;

        @Parameters(paramLabel = "NETWORK", description = "network id or name")
        String network;

        @Override
        public void run() {
            JsonNode n = parent.root.api().get("/api/v1/networks/" + Format.path(network));
            if (parent.root.json) {
                parent.root.printJson(n);
            } else {
                Format.fields(parent.root.out, n);
            }
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = {
            "Create a bridged network: guests join the bridge that every host running them has.",
            "With --cidr and a pool, each NIC gets a fixed address that the guest receives at boot."})
    static final class Create implements Runnable {
        @ParentCommand
        NetworkCommand parent;

        @Parameters(paramLabel = "NAME", description = "network name")
        String name;

        @Option(names = "--bridge", required = true, description = "host bridge, e.g. br-clinical")
        String bridge;

        @Option(names = "--cidr", description = "e.g. 10.20.0.0/24")
        String cidr;

        @Option(names = "--gateway", description = "default gateway for the guests")
        String gateway;

        @Option(names = "--pool", paramLabel = "FIRST-LAST", description = "guest addresses, e.g. 10.20.0.100-10.20.0.199")
        String pool;

        @Option(names = "--description", description = "free text")
        String description;

        @Override
        public void run() {
            ObjectNode b = ApiClient.json().createObjectNode().put("name", name).put("kind", "bridge")
                    .put("bridge", bridge);
            if (cidr != null) {
                b.put("cidr", cidr);
            }
            if (gateway != null) {
                b.put("gateway", gateway);
            }
            if (pool != null) {
                String[] parts = pool.split("-");
                if (parts.length != 2) {
                    throw new CliException(ExitCodes.USAGE, "--pool must look like 10.20.0.100-10.20.0.199");
                }
                b.put("poolFrom", parts[0]).put("poolTo", parts[1]);
            }
            if (description != null) {
                b.put("description", description);
            }
            JsonNode n = parent.root.api().post("/api/v1/networks", b);
            if (parent.root.json) {
                parent.root.printJson(n);
            } else {
                parent.root.out.println("network " + n.path("name").asText() + " created; use it with: carevisor vm"
                        + " create NAME --network " + n.path("name").asText());
            }
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a network no VM uses.")
    static final class Delete implements Runnable {
        @ParentCommand
        NetworkCommand parent;

        @Parameters(paramLabel = "NETWORK", description = "network id or name")
        String network;

        @Override
        public void run() {
            parent.root.api().delete("/api/v1/networks/" + Format.path(network));
            parent.root.out.println("network " + network + " deleted");
        }
    }
}
