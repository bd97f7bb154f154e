package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor token ...}: API tokens of the logged-in user, for scripts. */
@Command(name = "token", mixinStandardHelpOptions = true,
        description = {"Your API tokens, for scripts: pass one with --token or $CAREVISOR_TOKEN."},
        subcommands = {TokenCommand.ListTokens.class, TokenCommand.Create.class, TokenCommand.Revoke.class})
final class TokenCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        ListTokens.print(root);
    }

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "List your API tokens.")
    static final class ListTokens implements Runnable {
        @ParentCommand
        TokenCommand parent;

        @Override
        public void run() {
            print(parent.root);
        }

        static void print(CarevisorCli root) {
            JsonNode list = root.api().get("/api/v1/auth/tokens");
            if (root.json) {
                root.printJson(list);
                return;
            }
            Table t = new Table("NAME", "CREATED", "LAST USED", "EXPIRES", "ID");
            for (JsonNode x : list) {
                t.row(x.path("name").asText(), x.path("createdAt").asText(null), x.path("lastUsedAt").asText(null),
                        x.path("expiresAt").asText(null), x.path("id").asText());
            }
            t.print(root.out);
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = {
            "Create an API token; it is shown only once.", "Example: carevisor token create backup-job --days 30"})
    static final class Create implements Runnable {
        @ParentCommand
        TokenCommand parent;

        @Parameters(paramLabel = "NAME", description = "letters, digits, '.', '_', '-'")
        String name;

        @Option(names = "--days", paramLabel = "N", description = "valid for N days (default: the manager's, 90)")
        Integer days;

        @Override
        public void run() {
            ObjectNode body = ApiClient.json().createObjectNode().put("name", name);
            if (days != null) {
                body.put("expiresInDays", days);
            }
            JsonNode t = parent.root.api().post("/api/v1/auth/tokens", body);
            if (parent.root.json) {
                parent.root.printJson(t);
                return;
            }
            parent.root.out.println("API token " + t.path("name").asText(name) + " created (id " + t.path("id").asText()
                    + "), valid until " + t.path("expiresAt").asText() + ".");
            parent.root.out.println("Token (shown only now; keep it secret): " + t.path("token").asText());
            parent.root.out.println("Use it with --token TOKEN or CAREVISOR_TOKEN=TOKEN.");
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke an API token (by id or name).")
    static final class Revoke implements Runnable {
        @ParentCommand
        TokenCommand parent;

        @Parameters(paramLabel = "ID", description = "token id (or your token's name)")
        String id;

        @Override
        public void run() {
            ApiClient api = parent.root.api();
            String tokenId = id;
            for (JsonNode t : api.get("/api/v1/auth/tokens")) {
                if (t.path("name").asText().equals(id)) {
                    tokenId = t.path("id").asText();
                }
            }
            api.delete("/api/v1/auth/tokens/" + Format.path(tokenId));
            parent.root.out.println("API token " + id + " revoked.");
        }
    }
}
