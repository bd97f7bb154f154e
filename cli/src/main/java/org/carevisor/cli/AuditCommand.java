package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor audit ...}: the audit trail, its export, verification and periodic reviews. */
@Command(name = "audit", mixinStandardHelpOptions = true, description = {"The audit trail of changes.",
        "Times: 2026-11-01 (UTC midnight) or 2026-11-01T08:00:00Z; --from is inclusive, --to exclusive."},
        subcommands = {AuditCommand.ListRecords.class, AuditCommand.Export.class, AuditCommand.Verify.class,
                AuditCommand.Review.class})
final class AuditCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        print(root, root.api().get("/api/v1/audit?limit=50"));
    }

    /** The record filters of list and export. */
    static final class Filters {
        @Option(names = "--from", paramLabel = "TIME", description = "records at or after this time")
        String from;

        @Option(names = "--to", paramLabel = "TIME", description = "records before this time")
        String to;

        @Option(names = "--user", description = "records of this user")
        String user;

        @Option(names = "--target", paramLabel = "ID", description = "records of this object id")
        String target;

        @Option(names = "--action", description = "e.g. vm.delete, or vm.* for a prefix")
        String action;

        /** The query parameters (each starting with '&'). */
        String query() {
            StringBuilder q = new StringBuilder();
            param(q, "from", from);
            param(q, "to", to);
            param(q, "user", user);
            param(q, "target", target);
            param(q, "action", action);
            return q.toString();
        }

        static void param(StringBuilder q, String name, Object value) {
            if (value != null && !value.toString().isEmpty()) {
                q.append('&').append(name).append('=').append(Format.path(value.toString()));
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Audit records, newest first.")
    static final class ListRecords implements Runnable {
        @ParentCommand
        AuditCommand parent;

        @Mixin
        Filters filters = new Filters();

        @Option(names = "--limit", defaultValue = "50", description = "most records (default ${DEFAULT-VALUE})")
        int limit;

        @Option(names = "--asc", description = "oldest first")
        boolean asc;

        @Override
        public void run() {
            print(parent.root, parent.root.api().get("/api/v1/audit?limit=" + limit + filters.query()
                    + (asc ? "&order=asc" : "")));
        }
    }

    static void print(CarevisorCli root, JsonNode records) {
        if (root.json) {
            root.printJson(records);
            return;
        }
        Table t = new Table("SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME", "CHANGE (OLD -> NEW)", "REASON",
                "SIGNED");
        for (JsonNode r : records) {
            t.row(r.path("seq").asLong(), r.path("at").asText(), r.path("actor").asText(), r.path("action").asText(),
                    r.path("targetName").asText("-"), r.path("outcome").asText(),
                    VmCommand.shorten(change(r.path("oldValue"), r.path("newValue")), 70),
                    VmCommand.shorten(r.path("reason").asText(""), 60), signed(r.path("signature")));
        }
        t.print(root.out);
        if (!records.isEmpty()) {
            root.out.println("(old and new values in full: --json, or audit export)");
        }
    }

    /**
     * What a record changed, compactly: {@code key: old -> new} for each value that differs (or is only on one
     * side), separated by "; "; null when neither side has values.
     */
    static String change(JsonNode oldValue, JsonNode newValue) {
        boolean hasOld = oldValue != null && oldValue.isObject();
        boolean hasNew = newValue != null && newValue.isObject();
        if (!hasOld && !hasNew) {
            String one = hasValue(newValue) ? newValue.toString() : hasValue(oldValue) ? oldValue.toString() : null;
            return one;
        }
        java.util.Set<String> keys = new java.util.LinkedHashSet<>();
        if (hasOld) {
            oldValue.fieldNames().forEachRemaining(keys::add);
        }
        if (hasNew) {
            newValue.fieldNames().forEachRemaining(keys::add);
        }
        java.util.List<String> parts = new java.util.ArrayList<>();
        for (String k : keys) {
            JsonNode o = hasOld ? oldValue.get(k) : null;
            JsonNode n = hasNew ? newValue.get(k) : null;
            if (o != null && o.equals(n)) {
                continue;
            }
            parts.add(k + ": " + show(o) + " -> " + show(n));
        }
        return parts.isEmpty() ? null : String.join("; ", parts);
    }

    private static boolean hasValue(JsonNode v) {
        return v != null && !v.isMissingNode() && !v.isNull();
    }

    private static String show(JsonNode v) {
        return !hasValue(v) ? "-" : v.isTextual() ? v.asText() : v.toString();
    }

    /** "printedName (meaning)", or null when unsigned. */
    static String signed(JsonNode signature) {
        if (signature == null || !signature.isObject()) {
            return null;
        }
        return signature.path("printedName").asText() + " (" + signature.path("meaning").asText() + ")";
    }

    @Command(name = "export", mixinStandardHelpOptions = true, description = {
            "Export audit records, oldest first, as CSV or as a PDF report (with the chain's state).",
            "Example: carevisor audit export --format pdf --from 2026-11-01 --to 2026-12-01"})
    static final class Export implements Runnable {
        @ParentCommand
        AuditCommand parent;

        @Option(names = "--format", defaultValue = "csv", description = "csv or pdf (default ${DEFAULT-VALUE})")
        String format;

        @Mixin
        Filters filters = new Filters();

        @Option(names = "--limit", description = "most records (default: the manager's, 100000)")
        Integer limit;

        @Option(names = {"-o", "--output"}, paramLabel = "FILE",
                description = "write here; '-' for standard output (default: the manager's file name, in the current"
                        + " directory)")
        String output;

        @Override
        public void run() {
            if (!format.equals("csv") && !format.equals("pdf")) {
                throw new CliException(ExitCodes.USAGE, "--format must be csv or pdf, not '" + format + "'");
            }
            StringBuilder q = new StringBuilder("/api/v1/audit/export?format=" + format);
            q.append(filters.query());
            Filters.param(q, "limit", limit);
            ApiClient.Download d = parent.root.api().download(q.toString());
            if ("-".equals(output)) {
                parent.root.out.write(d.bytes(), 0, d.bytes().length);
                parent.root.out.flush();
                return;
            }
            Path file = Path.of(output != null ? output : d.filename() != null ? d.filename()
                    : "carevisor-audit." + format);
            try {
                Files.write(file, d.bytes());
            } catch (IOException e) {
                throw new CliException(ExitCodes.ERROR, "cannot write " + file + ": " + e.getMessage());
            }
            if (parent.root.json) {
                parent.root.printJson(ApiClient.json().createObjectNode().put("file", file.toString())
                        .put("bytes", d.bytes().length).put("contentType", d.contentType()));
            } else {
                parent.root.out.println("Wrote " + file + " (" + Format.bytes(d.bytes().length) + ").");
            }
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true, description = {
            "Verify the whole audit trail: every record's hash, the chain and the signed checkpoints.",
            "Exit code 1 when the trail was altered, with the first problem."})
    static final class Verify implements Runnable {
        @ParentCommand
        AuditCommand parent;

        @Override
        public void run() {
            CarevisorCli root = parent.root;
            JsonNode v = root.api().post("/api/v1/audit/verify", null);
            if (root.json) {
                root.printJson(v);
            } else {
                if (v.path("ok").asBoolean()) {
                    // one line: the manager's verdict, then what was checked
                    root.out.println(v.path("summary").asText() + " (records " + v.path("firstSeq").asLong() + "-"
                            + v.path("lastSeq").asLong() + ", " + v.path("checkpoints").asInt() + " signed checkpoint(s),"
                            + " the last at " + v.path("lastCheckpointAt").asText("-") + "; checked in "
                            + v.path("millis").asLong() + " ms)");
                } else {
                    root.out.println(v.path("summary").asText());
                }
                if (!v.path("ok").asBoolean() && v.path("problems").size() > 0) {
                    Table t = new Table("SEQ", "KIND", "DETAIL");
                    for (JsonNode p : v.path("problems")) {
                        t.row(p.path("seq").asLong(), p.path("kind").asText(), p.path("detail").asText());
                    }
                    root.out.println();
                    t.print(root.out);
                }
            }
            if (!v.path("ok").asBoolean()) {
                JsonNode first = v.path("first");
                throw new CliException(ExitCodes.ERROR, "the audit trail is damaged" + (first.isObject()
                        ? ": first problem at record " + first.path("seq").asLong() + " (" + first.path("kind").asText()
                        + "): " + first.path("detail").asText() : ""));
            }
        }
    }

    @Command(name = "review", mixinStandardHelpOptions = true,
            description = "Periodic reviews of the audit trail, signed by the reviewer.",
            subcommands = {Review.ListReviews.class, Review.Create.class})
    static final class Review implements Runnable {
        @ParentCommand
        AuditCommand parent;

        @Override
        public void run() {
            ListReviews.print(parent.root);
        }

        @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "List audit reviews.")
        static final class ListReviews implements Runnable {
            @ParentCommand
            Review parent;

            @Override
            public void run() {
                print(parent.parent.root);
            }

            static void print(CarevisorCli root) {
                JsonNode list = root.api().get("/api/v1/audit/reviews");
                if (root.json) {
                    root.printJson(list);
                    return;
                }
                Table t = new Table("FROM", "TO", "RECORDS", "CHAIN", "SIGNED", "SIGNED AT", "CONCLUSION", "ID");
                for (JsonNode r : list) {
                    t.row(r.path("from").asText(), r.path("to").asText(), r.path("records").asLong(),
                            r.path("chainIntact").asBoolean() ? "intact" : "DAMAGED", signed(r.path("signature")),
                            r.path("signature").path("signedAt").asText(null),
                            VmCommand.shorten(r.path("conclusion").asText(""), 60), r.path("id").asText());
                }
                t.print(root.out);
            }
        }

        @Command(name = "create", mixinStandardHelpOptions = true, description = {
                "Record a signed review of the audit records of a period.",
                "Example: carevisor audit review create --from 2026-11-01 --to 2026-12-01 \\",
                "           --conclusion \"no findings\" --sign reviewed"})
        static final class Create implements Runnable {
            @ParentCommand
            Review parent;

            @Option(names = "--from", required = true, paramLabel = "TIME", description = "start of the period")
            String from;

            @Option(names = "--to", required = true, paramLabel = "TIME", description = "end of the period: a date includes that whole day, a time (UTC) is exclusive")
            String to;

            @Option(names = "--conclusion", required = true, paramLabel = "TEXT", description = "what the review found")
            String conclusion;

            @Mixin
            SignOptions sign = new SignOptions();

            @Override
            public void run() {
                CarevisorCli root = parent.parent.root;
                ObjectNode body = ApiClient.json().createObjectNode().put("from", from).put("to", to)
                        .put("conclusion", conclusion);
                ObjectNode signature = sign.signature(root);
                if (signature != null) {
                    body.set("signature", signature);
                }
                JsonNode r = root.api().post("/api/v1/audit/reviews", body);
                if (root.json) {
                    root.printJson(r);
                    return;
                }
                root.out.println("Review " + r.path("id").asText() + " of " + r.path("from").asText() + " - "
                        + r.path("to").asText() + ": " + r.path("records").asLong() + " records, chain "
                        + (r.path("chainIntact").asBoolean() ? "intact" : "DAMAGED")
                        + (r.path("signature").isObject() ? "; signed by " + signed(r.path("signature")) + " at "
                        + r.path("signature").path("signedAt").asText() : "") + ".");
            }
        }
    }
}
