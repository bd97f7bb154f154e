package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor host list|show}. */
@Command(name = "host", mixinStandardHelpOptions = true, description = "Hosts that run VMs.",
        subcommands = {HostCommand.ListHosts.class, HostCommand.Show.class})
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
