package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor rule list|show|create|delete}: placement rules. */
@Command(name = "rule", mixinStandardHelpOptions = true,
        description = "Placement rules: VMs apart, VMs together, VMs on (or away from) tagged hosts.",
        subcommands = {RuleCommand.ListRules.class, RuleCommand.Show.class, RuleCommand.Create.class,
                RuleCommand.Delete.class})
final class RuleCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        ListRules.print(root);
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List rules and where they are broken now.")
    static final class ListRules implements Runnable {
        @ParentCommand
        RuleCommand parent;

        @Override
        public void run() {
            print(parent.root);
        }

        static void print(CarevisorCli root) {
            JsonNode list = root.api().get("/api/v1/placement-rules");
            if (root.json) {
                root.printJson(list);
                return;
            }
            Table t = new Table("NAME", "RULE", "VMS", "BROKEN NOW");
            for (JsonNode r : list) {
                List<String> vms = new ArrayList<>();
                r.path("vms").forEach(v -> vms.add(v.path("name").asText()));
                List<String> broken = Format.strings(r.path("violations"));
                t.row(r.path("name").asText(), r.path("summary").asText(), String.join(",", vms),
                        broken.isEmpty() ? "-" : String.join("; ", broken));
            }
            t.print(root.out);
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one rule.")
    static final class Show implements Runnable {
        @ParentCommand
        RuleCommand parent;

        @Parameters(paramLabel = "RULE", description = "rule id or name")
        String rule;

        @Override
        public void run() {
            JsonNode r = parent.root.api().get("/api/v1/placement-rules/" + Format.path(rule));
            if (parent.root.json) {
                parent.root.printJson(r);
            } else {
                Format.fields(parent.root.out, r);
            }
        }
    }

    /** Exactly one kind of rule. */
    static final class Kind {
        @Option(names = "--apart", description = "the VMs never share a host (a redundant pair)")
        boolean apart;

        @Option(names = "--together", description = "the VMs run on one host")
        boolean together;

        @Option(names = "--run-on", paramLabel = "TAG", description = "the VMs run on hosts tagged TAG")
        String runOn;

        @Option(names = "--avoid", paramLabel = "TAG", description = "the VMs avoid hosts tagged TAG")
        String avoid;
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = {
            "Create a rule; refused when it contradicts the existing rules.",
            "Examples:",
            "  carevisor rule create pacs-pair --apart --vm pacs-a --vm pacs-b",
            "  carevisor rule create pacs-licence --run-on lic-pacs --vm pacs-a --vm pacs-b"})
    static final class Create implements Runnable {
        @ParentCommand
        RuleCommand parent;

        @Parameters(paramLabel = "NAME", description = "rule name")
        String name;

        @ArgGroup(exclusive = true, multiplicity = "1")
        Kind kind;

        @Option(names = "--vm", required = true, paramLabel = "VM", description = "a VM of the rule (repeatable)")
        List<String> vms = new ArrayList<>();

        @Option(names = "--should", description = "followed when some host allows it (default: must, never broken)")
        boolean should;

        @Option(names = "--description", description = "free text, e.g. the licence contract")
        String description;

        @Override
        public void run() {
            ObjectNode b = ApiClient.json().createObjectNode().put("name", name)
                    .put("enforcement", should ? "should" : "must");
            if (kind.apart) {
                b.put("type", "vm-anti-affinity");
            } else if (kind.together) {
                b.put("type", "vm-affinity");
            } else {
                b.put("type", "vm-host").put("hostTag", kind.runOn != null ? kind.runOn : kind.avoid)
                        .put("hostRelation", kind.runOn != null ? "run-on" : "avoid");
            }
            vms.forEach(b.putArray("vms")::add);
            if (description != null) {
                b.put("description", description);
            }
            JsonNode r = parent.root.api().post("/api/v1/placement-rules", b);
            if (parent.root.json) {
                parent.root.printJson(r);
                return;
            }
            parent.root.out.println(r.path("summary").asText() + " created");
            for (JsonNode w : r.path("warnings")) {
                parent.root.out.println("warning: " + w.asText());
            }
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a rule.")
    static final class Delete implements Runnable {
        @ParentCommand
        RuleCommand parent;

        @Parameters(paramLabel = "RULE", description = "rule id or name")
        String rule;

        @Override
        public void run() {
            parent.root.api().delete("/api/v1/placement-rules/" + Format.path(rule));
            parent.root.out.println("rule " + rule + " deleted");
        }
    }
}
