package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor user ...}: user accounts and their roles (privilege User.Admin). */
@Command(name = "user", mixinStandardHelpOptions = true, description = {"User accounts and their roles.",
        "USER is a user name or id. SCOPE: global, cluster:NAME, host:NAME or vm:NAME."},
        subcommands = {UserCommand.ListUsers.class, UserCommand.Show.class, UserCommand.Create.class,
                UserCommand.Set.class, UserCommand.ResetPassword.class, UserCommand.Unlock.class,
                UserCommand.Grant.class, UserCommand.Revoke.class})
final class UserCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        ListUsers.print(root);
    }

    /** Role assignments as "role@scope, ...". */
    static String roles(JsonNode roles) {
        List<String> out = new ArrayList<>();
        roles.forEach(r -> out.add(r.path("role").asText() + "@" + r.path("scopeName").asText(r.path("scope").asText())));
        return out.isEmpty() ? "-" : String.join(", ", out);
    }

    static String path(String user) {
        return "/api/v1/users/" + Format.path(user);
    }

    /** Prints a user: its fields, then its role assignments with their ids. */
    static void show(CarevisorCli root, JsonNode u) {
        if (root.json) {
            root.printJson(u);
            return;
        }
        ObjectNode fields = u.deepCopy();
        fields.remove("roles");
        Format.fields(root.out, fields);
        root.out.println();
        Table t = new Table("ROLE", "SCOPE", "ASSIGNMENT ID");
        for (JsonNode r : u.path("roles")) {
            t.row(r.path("role").asText(), r.path("scopeName").asText(r.path("scope").asText()), r.path("id").asText());
        }
        t.print(root.out);
    }

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "List users.")
    static final class ListUsers implements Runnable {
        @ParentCommand
        UserCommand parent;

        @Override
        public void run() {
            print(parent.root);
        }

        static void print(CarevisorCli root) {
            JsonNode list = root.api().get("/api/v1/users");
            if (root.json) {
                root.printJson(list);
                return;
            }
            Table t = new Table("USER", "FULL NAME", "EMAIL", "STATE", "ROLES", "LAST LOGIN");
            for (JsonNode u : list) {
                String state = !u.path("enabled").asBoolean(true) ? "disabled" : u.path("locked").asBoolean() ? "locked"
                        : u.path("mustChangePassword").asBoolean() ? "must change password" : "active";
                t.row(u.path("username").asText(), u.path("fullName").asText(), u.path("email").asText(null), state,
                        roles(u.path("roles")), u.path("lastLoginAt").asText(null));
            }
            t.print(root.out);
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show a user and their role assignments.")
    static final class Show implements Runnable {
        @ParentCommand
        UserCommand parent;

        @Parameters(paramLabel = "USER")
        String user;

        @Override
        public void run() {
            show(parent.root, parent.root.api().get(path(user)));
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = {
            "Create a user with a temporary password (shown once; to be changed at the first login).",
            "Example: carevisor user create bob --full-name \"Bob Meier\" --role operator@cluster:icu"})
    static final class Create implements Runnable {
        @ParentCommand
        UserCommand parent;

        @Parameters(paramLabel = "USER", description = "the user name")
        String username;

        @Option(names = "--full-name", required = true, paramLabel = "NAME",
                description = "printed name, e.g. in electronic signatures")
        String fullName;

        @Option(names = "--email")
        String email;

        @Option(names = "--role", paramLabel = "ROLE[@SCOPE]", description = "assign a role (repeatable; scope"
                + " default global)")
        List<String> roles = new ArrayList<>();

        @Override
        public void run() {
            ObjectNode body = ApiClient.json().createObjectNode().put("username", username).put("fullName", fullName);
            if (email != null) {
                body.put("email", email);
            }
            if (!roles.isEmpty()) {
                ArrayNode a = body.putArray("roles");
                for (String r : roles) {
                    int at = r.indexOf('@');
                    a.addObject().put("role", at < 0 ? r : r.substring(0, at))
                            .put("scope", at < 0 ? "global" : r.substring(at + 1));
                }
            }
            JsonNode created = parent.root.api().post("/api/v1/users", body);
            if (parent.root.json) {
                parent.root.printJson(created);
                return;
            }
            JsonNode u = created.path("user");
            parent.root.out.println("User " + u.path("username").asText(username) + " (" + u.path("fullName").asText()
                    + ") created; roles: " + roles(u.path("roles")) + ".");
            printTemporaryPassword(parent.root, created);
        }
    }

    static void printTemporaryPassword(CarevisorCli root, JsonNode created) {
        if (created.hasNonNull("temporaryPassword")) {
            root.out.println("Temporary password (shown only now; must be changed at the first login): "
                    + created.path("temporaryPassword").asText());
        }
    }

    @Command(name = "set", mixinStandardHelpOptions = true, description = "Change a user's name, email, or enable or"
            + " disable the account.")
    static final class Set implements Runnable {
        @ParentCommand
        UserCommand parent;

        @Parameters(paramLabel = "USER")
        String user;

        @Option(names = "--full-name", paramLabel = "NAME")
        String fullName;

        @Option(names = "--email")
        String email;

        @ArgGroup(exclusive = true)
        Enabled enabled;

        static final class Enabled {
            @Option(names = "--enable", required = true, description = "allow the user to log in")
            boolean enable;

            @Option(names = "--disable", required = true, description = "refuse logins of the user (sessions end)")
            boolean disable;
        }

        @Override
        public void run() {
            ObjectNode body = ApiClient.json().createObjectNode();
            if (fullName != null) {
                body.put("fullName", fullName);
            }
            if (email != null) {
                body.put("email", email);
            }
            if (enabled != null) {
                body.put("enabled", enabled.enable);
            }
            if (body.isEmpty()) {
                throw new CliException(ExitCodes.USAGE, "nothing to change; give --full-name, --email, --enable or"
                        + " --disable");
            }
            JsonNode u = parent.root.api().patch(path(user), body);
            if (parent.root.json) {
                parent.root.printJson(u);
            } else {
                parent.root.out.println("User " + u.path("username").asText() + " (" + u.path("fullName").asText()
                        + "): " + (u.path("enabled").asBoolean(true) ? "enabled" : "disabled") + ".");
            }
        }
    }

    @Command(name = "reset-password", mixinStandardHelpOptions = true,
            description = "Give a user a new temporary password (shown once; to be changed at the next login).")
    static final class ResetPassword implements Runnable {
        @ParentCommand
        UserCommand parent;

        @Parameters(paramLabel = "USER")
        String user;

        @Override
        public void run() {
            JsonNode r = parent.root.api().post(path(user) + "/password-reset", null);
            if (parent.root.json) {
                parent.root.printJson(r);
                return;
            }
            parent.root.out.println("Password of " + r.path("user").path("username").asText(user) + " reset.");
            printTemporaryPassword(parent.root, r);
        }
    }

    @Command(name = "unlock", mixinStandardHelpOptions = true,
            description = "Unlock an account locked after failed logins or signatures.")
    static final class Unlock implements Runnable {
        @ParentCommand
        UserCommand parent;

        @Parameters(paramLabel = "USER")
        String user;

        @Override
        public void run() {
            JsonNode u = parent.root.api().post(path(user) + "/unlock", null);
            if (parent.root.json) {
                parent.root.printJson(u);
            } else {
                parent.root.out.println("User " + u.path("username").asText(user) + " unlocked.");
            }
        }
    }

    @Command(name = "grant", mixinStandardHelpOptions = true, description = {"Assign a role to a user.",
            "Example: carevisor user grant bob operator --scope cluster:icu"})
    static final class Grant implements Runnable {
        @ParentCommand
        UserCommand parent;

        @Parameters(index = "0", paramLabel = "USER")
        String user;

        @Parameters(index = "1", paramLabel = "ROLE", description = "see: carevisor role list")
        String role;

        @Option(names = "--scope", defaultValue = "global",
                description = "global, cluster:NAME, host:NAME or vm:NAME (default ${DEFAULT-VALUE})")
        String scope;

        @Override
        public void run() {
            JsonNode u = parent.root.api().post(path(user) + "/roles", ApiClient.json().createObjectNode()
                    .put("role", role).put("scope", scope));
            if (parent.root.json) {
                parent.root.printJson(u);
            } else {
                parent.root.out.println("User " + u.path("username").asText(user) + " now has: " + roles(u.path("roles"))
                        + ".");
            }
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true,
            description = "Remove a role assignment (ids: carevisor user show USER).")
    static final class Revoke implements Runnable {
        @ParentCommand
        UserCommand parent;

        @Parameters(index = "0", paramLabel = "USER")
        String user;

        @Parameters(index = "1", paramLabel = "ASSIGNMENT_ID")
        String assignment;

        @Override
        public void run() {
            JsonNode u = parent.root.api().delete(path(user) + "/roles/" + Format.path(assignment));
            if (parent.root.json) {
                parent.root.printJson(u);
            } else {
                parent.root.out.println("User " + u.path("username").asText(user) + " now has: " + roles(u.path("roles"))
                        + ".");
            }
        }
    }
}
