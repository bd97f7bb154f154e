package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor site status|shutdown|resume}: the site as a whole (orderly shutdown, UPS). */
@Command(name = "site", mixinStandardHelpOptions = true, description = {
        "The site as a whole: orderly shutdown of every VM and host (by hand or on a UPS signal),",
        "resume, and the state of the UPSes the manager watches."},
        subcommands = {SiteCommand.Status.class, SiteCommand.Shutdown.class, SiteCommand.Resume.class})
final class SiteCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        Status.print(root);
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = {
            "The latest site shutdown with every step, the hosts, the UPSes and the order the VMs",
            "running now would stop in."})
    static final class Status implements Runnable {
        @ParentCommand
        SiteCommand parent;

        @Override
        public void run() {
            print(parent.root);
        }

        static void print(CarevisorCli root) {
            JsonNode s = root.api().get("/api/v1/site");
            if (root.json) {
                root.printJson(s);
                return;
            }
            JsonNode sd = s.path("shutdown");
            if (sd.isMissingNode() || sd.isNull()) {
                root.out.println("Site shutdown: none so far");
            } else {
                root.out.println("Site shutdown " + sd.path("id").asText() + ": " + sd.path("state").asText()
                        + (sd.path("state").asText().equals("running") ? " (phase " + sd.path("phase").asText() + ")"
                        : "") + ", by " + sd.path("actor").asText() + " (" + sd.path("trigger").asText() + ")");
                root.out.println("  reason:  " + sd.path("reason").asText("-"));
                root.out.println("  started: " + sd.path("startedAt").asText() + (sd.hasNonNull("finishedAt")
                        ? ", ended " + sd.path("finishedAt").asText() : ""));
                if (sd.hasNonNull("detail")) {
                    root.out.println("  " + sd.path("detail").asText());
                }
                if (!sd.path("steps").isEmpty()) {
                    Table steps = new Table("#", "KIND", "NAME", "WAVE", "OUTCOME", "DETAIL");
                    for (JsonNode st : sd.path("steps")) {
                        steps.row(st.path("seq").asInt(), st.path("kind").asText(), st.path("targetName").asText(),
                                st.path("wave").asInt() == 0 ? "-" : st.path("wave").asText(),
                                st.path("outcome").asText(), st.path("detail").asText(""));
                    }
                    steps.print(root.out);
                }
            }
            root.out.println();
            root.out.println("Hosts");
            Table hosts = new Table("NAME", "STATE");
            s.path("hosts").forEach(h -> hosts.row(h.path("name").asText(), h.path("state").asText()));
            hosts.print(root.out);
            root.out.println();
            root.out.println("UPS");
            if (s.path("ups").isEmpty()) {
                root.out.println("  (none watched; start the manager with --ups NAME@HOST to shut down on a UPS signal)");
            } else {
                Table ups = new Table("UPS", "POWER", "STATUS", "CHARGE", "RUNTIME", "REACHABLE");
                for (JsonNode u : s.path("ups")) {
                    ups.row(u.path("ups").asText(), u.path("power").asText(), u.path("status").asText("-"),
                            u.hasNonNull("chargePercent") ? u.path("chargePercent").asInt() + " %" : null,
                            u.hasNonNull("runtimeSeconds") ? u.path("runtimeSeconds").asInt() + " s" : null,
                            u.path("reachable").asBoolean() ? "yes" : "no: " + u.path("error").asText(""));
                }
                ups.print(root.out);
            }
            root.out.println();
            printPlan(root, s.path("plan"));
        }

        static void printPlan(CarevisorCli root, JsonNode plan) {
            root.out.println("Shutdown order of the VMs running now");
            if (plan.isEmpty()) {
                root.out.println("  (no VM runs)");
                return;
            }
            Table t = new Table("WAVE", "VMS", "WHY");
            plan.forEach(w -> t.row(w.path("wave").asInt(), String.join(", ", Format.strings(w.path("vms"))),
                    w.path("why").asText()));
            t.print(root.out);
        }
    }

    @Command(name = "shutdown", mixinStandardHelpOptions = true, description = {
            "Shut the whole site down in order: every host refuses VM starts, the running VMs shut",
            "down in waves (lowest priority first, applications before the VMs they depend on), each",
            "with ACPI and a power-off after --vm-timeout, then every host does its power-off action",
            "(agent option --power-off-action). The VMs' desired state stays running: they start",
            "again in start order when their hosts are back. Needs --reason; every step is audited.",
            "Cancel before the hosts switch off with: carevisor site resume"})
    static final class Shutdown implements Runnable {
        @ParentCommand
        SiteCommand parent;

        @Option(names = "--vm-timeout", paramLabel = "SECONDS", description = "ACPI time per guest before it is"
                + " powered off (0-3600, default 120)")
        Integer vmTimeout;

        @Option(names = "--keep-hosts-on", description = "stop the VMs but leave the hosts on (refusing VM starts"
                + " until carevisor site resume)")
        boolean keepHostsOn;

        @Option(names = "--dry-run", description = "only show the order the running VMs would stop in")
        boolean dryRun;

        @picocli.CommandLine.Mixin
        SignOptions sign = new SignOptions();

        @picocli.CommandLine.Mixin
        VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

        @Override
        public void run() {
            CarevisorCli root = parent.root;
            if (dryRun) {
                JsonNode s = root.api().get("/api/v1/site");
                if (root.json) {
                    root.printJson(s.path("plan"));
                } else {
                    Status.printPlan(root, s.path("plan"));
                }
                return;
            }
            if (root.reason == null || root.reason.isBlank()) {
                throw new CliException(ExitCodes.USAGE, "a site shutdown needs a reason: carevisor --reason TEXT"
                        + " site shutdown (it is kept in the audit trail)");
            }
            ObjectNode b = sign.body(root);
            if (vmTimeout != null) {
                b.put("vmTimeoutSeconds", vmTimeout);
            }
            if (keepHostsOn) {
                b.put("powerOffHosts", false);
            }
            Tasks.follow(root, root.api().post("/api/v1/site/shutdown", b), !wait.noWait, wait.limit());
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = {
            "Cancel a site shutdown before its hosts switch off, or, after one, make the hosts that",
            "stayed on accept VM starts again; the VMs stopped in order then start in start order."})
    static final class Resume implements Runnable {
        @ParentCommand
        SiteCommand parent;

        @Override
        public void run() {
            CarevisorCli root = parent.root;
            ObjectNode b = ApiClient.json().createObjectNode();
            if (root.reason != null) {
                b.put("reason", root.reason);
            }
            JsonNode r = root.api().post("/api/v1/site/resume", b);
            if (root.json) {
                root.printJson(r);
                return;
            }
            if (r.hasNonNull("cancelled")) {
                root.out.println("site shutdown " + r.path("cancelled").asText() + " cancelled: "
                        + r.path("detail").asText());
                return;
            }
            if (!r.path("resumedHosts").isEmpty()) {
                root.out.println("hosts accepting VM starts again: " + String.join(", ",
                        Format.strings(r.path("resumedHosts"))));
            }
            for (JsonNode f : r.path("failedHosts")) {
                root.err.println("not resumed: " + f.asText());
            }
            root.out.println(r.path("detail").asText());
            if (!r.path("failedHosts").isEmpty()) {
                throw new CliException(ExitCodes.ERROR, "some hosts could not be resumed (see above)");
            }
        }
    }
}
