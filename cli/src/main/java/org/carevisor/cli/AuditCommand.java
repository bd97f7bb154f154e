package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor audit list}. */
@Command(name = "audit", mixinStandardHelpOptions = true, description = "The audit trail of changes.",
        subcommands = {AuditCommand.ListRecords.class})
final class AuditCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        print(root, root.api().get("/api/v1/audit?limit=50"));
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Newest audit records first.")
    static final class ListRecords implements Runnable {
        @ParentCommand
        AuditCommand parent;

        @Option(names = "--target", description = "only records of this object id")
        String target;

        @Option(names = "--limit", defaultValue = "50", description = "most records (default ${DEFAULT-VALUE})")
        int limit;

        @Override
        public void run() {
            print(parent.root, parent.root.api().get("/api/v1/audit?limit=" + limit
                    + (target == null ? "" : "&target=" + Format.path(target))));
        }
    }

    static void print(CarevisorCli root, JsonNode records) {
        if (root.json) {
            root.printJson(records);
            return;
        }
        Table t = new Table("SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME", "REASON");
        for (JsonNode r : records) {
            t.row(r.path("seq").asLong(), r.path("at").asText(), r.path("actor").asText(), r.path("action").asText(),
                    r.path("targetName").asText("-"), r.path("outcome").asText(),
                    VmCommand.shorten(r.path("reason").asText(""), 70));
        }
        t.print(root.out);
    }
}
