package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor role ...}: roles, i.e. named sets of privileges. */
@Command(name = "role", mixinStandardHelpOptions = true, description = "Roles: named sets of privileges.",
        subcommands = {RoleCommand.ListRoles.class, RoleCommand.Create.class, RoleCommand.Delete.class})
final class RoleCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        ListRoles.print(root);
    }

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "List roles.")
    static final class ListRoles implements Runnable {
        @ParentCommand
        RoleCommand parent;

        @Override
        public void run() {
            print(parent.root);
        }

        static void print(CarevisorCli root) {
            JsonNode list = root.api().get("/api/v1/roles");
            if (root.json) {
                root.printJson(list);
                return;
            }
            Table t = new Table("NAME", "BUILT IN", "PRIVILEGES", "DESCRIPTION");
            for (JsonNode r : list) {
                t.row(r.path("name").asText(), r.path("builtin").asBoolean() ? "yes" : "no",
                        String.join(",", Format.strings(r.path("privileges"))), r.path("description").asText(null));
            }
            t.print(root.out);
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = {"Create a role.",
            "Example: carevisor role create vm-starter --privilege Sys.View,VM.PowerState"})
    static final class Create implements Runnable {
        @ParentCommand
        RoleCommand parent;

        @Parameters(paramLabel = "NAME")
        String name;

        @Option(names = "--privilege", required = true, split = ",", paramLabel = "PRIVILEGE",
                description = "e.g. VM.PowerState (repeatable or comma-separated; see carevisor role list)")
        List<String> privileges = new ArrayList<>();

        @Option(names = "--description")
        String description;

        @Override
        public void run() {
            ObjectNode body = ApiClient.json().createObjectNode().put("name", name);
            if (description != null) {
                body.put("description", description);
            }
            ArrayNode p = body.putArray("privileges");
            privileges.stream().map(String::strip).filter(s -> !s.isEmpty()).forEach(p::add);
            JsonNode r = parent.root.api().post("/api/v1/roles", body);
            if (parent.root.json) {
                parent.root.printJson(r);
            } else {
                parent.root.out.println("Role " + r.path("name").asText(name) + " created: "
                        + String.join(", ", Format.strings(r.path("privileges"))) + ".");
            }
        }
    }

    @Command(name = "delete", aliases = "rm", mixinStandardHelpOptions = true,
            description = "Delete a role (not a built-in one).")
    static final class Delete implements Runnable {
        @ParentCommand
        RoleCommand parent;

        @Parameters(paramLabel = "NAME", description = "role name or id")
        String name;

        @Override
        public void run() {
            parent.root.api().delete("/api/v1/roles/" + Format.path(name));
            parent.root.out.println("Role " + name + " deleted.");
        }
    }
}
