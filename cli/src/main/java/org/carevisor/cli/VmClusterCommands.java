package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor vm migrate|placement|migrations}: VMs across the hosts of a cluster. */
final class VmClusterCommands {
    private VmClusterCommands() {
    }

    @Command(name = "migrate", mixinStandardHelpOptions = true, description = {
            "Move a VM to another host of its cluster: live (the guest keeps running) when it runs.",
            "Without --host the scheduler chooses. Ctrl-C stops waiting; cancel with: carevisor task cancel ID"})
    static final class Migrate implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "VM", description = "VM id or name")
        String vm;

        @Option(names = "--host", description = "destination host id or name")
        String host;

        @Option(names = "--bandwidth", paramLabel = "MiBps", description = "bandwidth limit (default: the cluster's)")
        Integer bandwidth;

        @Option(names = "--downtime-limit", paramLabel = "MS", description = "longest planned pause of the guest")
        Integer downtime;

        @Option(names = "--auto-converge", negatable = true, description = "slow a busy guest down so the copy finishes")
        Boolean autoConverge;

        @picocli.CommandLine.Mixin
        VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

        @Override
        public void run() {
            ObjectNode b = ApiClient.json().createObjectNode();
            if (host != null) {
                b.put("host", host);
            }
            if (bandwidth != null) {
                b.put("bandwidthMiBps", bandwidth);
            }
            if (downtime != null) {
                b.put("downtimeLimitMs", downtime);
            }
            if (autoConverge != null) {
                b.put("autoConverge", autoConverge);
            }
            if (parent.root.reason != null) {
                b.put("reason", parent.root.reason);
            }
            Tasks.follow(parent.root, parent.root.api().post("/api/v1/vms/" + Format.path(vm) + "/migrate", b),
                    !wait.noWait, wait.limit());
        }
    }

    @Command(name = "placement", mixinStandardHelpOptions = true,
            description = "Which hosts could take the VM now, and why the others could not.")
    static final class Placement implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "VM", description = "VM id or name")
        String vm;

        @Override
        public void run() {
            JsonNode p = parent.root.api().get("/api/v1/vms/" + Format.path(vm) + "/placement");
            if (parent.root.json) {
                parent.root.printJson(p);
                return;
            }
            Table t = new Table("HOST", "CAN TAKE IT", "WHY NOT / NOTES");
            for (JsonNode h : p.path("hosts")) {
                List<String> refusals = Format.strings(h.path("refusals"));
                List<String> should = Format.strings(h.path("brokenShouldRules"));
                String best = h.path("hostId").asText().equals(p.path("bestHost").asText()) ? " (best)" : "";
                t.row(h.path("hostName").asText() + best, refusals.isEmpty() ? "yes" : "no",
                        refusals.isEmpty() ? (should.isEmpty() ? String.format("memory load after: %.0f%%",
                                h.path("memoryLoadAfter").asDouble() * 100) : "breaks " + String.join("; ", should))
                                : String.join("; ", refusals));
            }
            t.print(parent.root.out);
        }
    }

    @Command(name = "migrations", mixinStandardHelpOptions = true, description = "Recent live migrations.")
    static final class Migrations implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "VM", arity = "0..1", description = "only this VM")
        String vm;

        @Option(names = "--limit", defaultValue = "20", description = "most migrations (default ${DEFAULT-VALUE})")
        int limit;

        @Override
        public void run() {
            JsonNode list = parent.root.api().get("/api/v1/migrations?limit=" + limit
                    + (vm == null ? "" : "&vm=" + Format.path(vm)));
            if (parent.root.json) {
                parent.root.printJson(list);
                return;
            }
            Table t = new Table("STARTED", "VM", "PHASE", "PURPOSE", "DOWNTIME", "TOTAL", "SENT", "ERROR");
            for (JsonNode m : list) {
                t.row(m.path("startedAt").asText(), m.path("vmName").asText(), m.path("phase").asText(),
                        m.path("purpose").asText(), m.hasNonNull("downtimeMs") ? m.path("downtimeMs").asLong() + " ms" : "-",
                        m.hasNonNull("totalMs") ? m.path("totalMs").asLong() + " ms" : "-",
                        m.hasNonNull("transferredBytes") ? Format.bytes(m.path("transferredBytes").asLong()) : "-",
                        m.path("error").asText("-"));
            }
            t.print(parent.root.out);
        }
    }
}
