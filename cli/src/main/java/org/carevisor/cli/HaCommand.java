package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor ha status}: high availability as the manager sees it. */
@Command(name = "ha", mixinStandardHelpOptions = true, description = {
        "High availability: host health, protected VMs and the latest HA decisions.",
        "Settings: carevisor vm ha VM | cluster ha CLUSTER | host fence HOST"},
        subcommands = {HaCommand.Status.class})
final class HaCommand implements Runnable {
    /** Decisions shown without --all. */
    static final int RECENT = 20;

    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        Status.print(root, false);
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = {
            "Host health, protected VMs and the latest HA decisions.",
            "Hosts with their health and storage lease as HA sees them, the HA VMs in",
            "restart order (higher priority first) and the latest decisions, newest first."})
    static final class Status implements Runnable {
        @ParentCommand
        HaCommand parent;

        @Option(names = "--all", description = "show every decision the manager keeps, not only the latest " + RECENT)
        boolean all;

        @Override
        public void run() {
            print(parent.root, all);
        }

        static void print(CarevisorCli root, boolean all) {
            JsonNode s = root.api().get("/api/v1/ha");
            if (root.json) {
                root.printJson(s);
                return;
            }
            root.out.println("Hosts");
            if (s.path("hosts").isEmpty()) {
                root.out.println("  (none)");
            } else {
                Table hosts = new Table("NAME", "HEALTH", "LEASE", "LEASE AGE", "FENCE");
                for (JsonNode h : s.path("hosts")) {
                    hosts.row(h.path("name").asText(), h.path("health").asText(),
                            h.hasNonNull("leaseCounter") ? h.path("leaseCounter").asLong() : null,
                            h.hasNonNull("leaseAgeSeconds") ? String.format(Locale.ROOT, "%.1f s",
                                    h.path("leaseAgeSeconds").asDouble()) : null,
                            h.path("fence").asText("none"));
                }
                hosts.print(root.out);
            }

            root.out.println();
            root.out.println("Protected VMs");
            List<JsonNode> vms = new ArrayList<>();
            s.path("vms").forEach(vms::add);
            if (vms.isEmpty()) {
                root.out.println("  (none; protect one with: carevisor vm ha VM --enable)");
            } else {
                vms.sort(Comparator.comparingInt((JsonNode v) -> -v.path("priority").asInt())
                        .thenComparing(v -> v.path("name").asText()));
                Table t = new Table("NAME", "PRIORITY", "HOST", "STATE");
                for (JsonNode v : vms) {
                    t.row(v.path("name").asText(), v.path("priority").asInt(), v.path("host").asText(null),
                            v.path("state").asText());
                }
                t.print(root.out);
            }

            root.out.println();
            JsonNode recent = s.path("recent");
            int shown = all ? recent.size() : Math.min(RECENT, recent.size());
            root.out.println("Latest decisions");
            if (recent.isEmpty()) {
                root.out.println("  (none)");
                return;
            }
            Table t = new Table("AT", "DECISION", "HOST", "VM", "DETAIL");
            for (int i = 0; i < shown; i++) {
                JsonNode d = recent.get(i);
                t.row(d.path("at").asText(), d.path("decision").asText(), d.path("host").asText(null),
                        d.path("vm").asText(null), d.path("detail").asText(""));
            }
            t.print(root.out);
            if (shown < recent.size()) {
                root.out.println("(" + (recent.size() - shown) + " older decision" + (recent.size() - shown == 1 ? ""
                        : "s") + " not shown; --all shows them)");
            }
        }
    }
}
