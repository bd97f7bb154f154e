package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.Console;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor login|logout|whoami|passwd}. */
final class AuthCommands {
    private AuthCommands() {
    }

    @Command(name = "login", mixinStandardHelpOptions = true, description = {
            "Log in and keep the session (a file of mode 0600) for the next commands.",
            "Automatic logoff after some minutes without a request: log in again then.",
            "Example: carevisor login alice"})
    static final class Login implements Runnable {
        @ParentCommand
        CarevisorCli root;

        @Parameters(paramLabel = "USER", arity = "0..1", description = "user name (default: the last one logged in)")
        String user;

        @Option(names = "--password-stdin", description = "read the password from one line of standard input")
        boolean passwordStdin;

        @Override
        public void run() {
            Path file = root.sessionFile();
            String name = user;
            if (name == null) {
                Session previous = null;
                try {
                    previous = Session.read(file);
                } catch (CliException e) {
                    // damaged: replaced below
                }
                name = previous == null ? null : previous.username();
            }
            if (name == null) {
                Console console = System.console();
                name = passwordStdin || console == null ? null : console.readLine("User name: ");
                if (name == null || name.isBlank()) {
                    throw new CliException(ExitCodes.USAGE, "give the user name: carevisor login USER");
                }
                name = name.strip();
            }
            String password = root.password("Password of " + name + ": ", passwordStdin);
            ApiClient api = root.anonymousApi();
            JsonNode s = api.post("/api/v1/auth/login", ApiClient.json().createObjectNode().put("username", name)
                    .put("password", password));
            new Session(api.base(), s.path("token").asText(), s.path("username").asText(name),
                    s.path("expiresAt").asText(null)).write(file);
            if (root.json) {
                ObjectNode shown = s.deepCopy();
                shown.remove("token"); // kept in the session file only
                shown.put("sessionFile", file.toString());
                root.printJson(shown);
            } else {
                root.out.println("Logged in to " + api.base() + " as " + s.path("fullName").asText(name) + " ("
                        + s.path("username").asText(name) + ").");
                root.out.println("Automatic logoff after " + s.path("idleTimeoutMinutes").asInt() + " minutes without"
                        + " activity; the session ends at " + s.path("expiresAt").asText("?") + " at the latest.");
                if (s.path("mustChangePassword").asBoolean()) {
                    root.out.println("Your password must be changed before anything else: carevisor passwd");
                }
            }
            String env = root.env.apply("CAREVISOR_TOKEN");
            if (root.explicitToken() == null && env != null && !env.isBlank()) {
                root.err.println("carevisor: note: $CAREVISOR_TOKEN is set and is used instead of this session;"
                        + " unset it to use the session");
            }
        }
    }

    @Command(name = "logout", mixinStandardHelpOptions = true,
            description = "End the login session and delete the session file.")
    static final class Logout implements Runnable {
        @ParentCommand
        CarevisorCli root;

        @Override
        public void run() {
            Path file = root.sessionFile();
            Session session;
            try {
                session = Session.read(file);
            } catch (CliException e) {
                Session.delete(file);
                root.out.println("Deleted the damaged session file " + file + ".");
                return;
            }
            // an explicit --token is ended as asked; $CAREVISOR_TOKEN (an API token) is left alone
            String explicit = root.explicitToken();
            String token = explicit != null ? explicit : session == null ? null : session.token();
            if (token == null) {
                root.out.println("Not logged in (no session file " + file + ").");
                return;
            }
            String base = explicit != null || session.url() == null ? root.resolveUrl() : session.url();
            String ended;
            try {
                root.client(base, token, null).post("/api/v1/auth/logout", null);
                ended = "Logged out";
            } catch (CliException e) {
                if (e.exitCode() != ExitCodes.NOT_AUTHENTICATED) {
                    throw e;
                }
                ended = "The session had already ended";
            }
            boolean deleted = session != null && token.equals(session.token()) && Session.delete(file);
            root.out.println(ended + (deleted ? "; deleted the session file " + file : "") + ".");
        }
    }

    @Command(name = "whoami", mixinStandardHelpOptions = true,
            description = "Show the logged-in user, their roles and privileges.")
    static final class WhoAmI implements Runnable {
        @ParentCommand
        CarevisorCli root;

        @Override
        public void run() {
            JsonNode u = root.api().get("/api/v1/auth/whoami");
            if (root.json) {
                root.printJson(u);
                return;
            }
            Labeled f = new Labeled();
            f.add("User", u.path("username").asText() + " (" + u.path("fullName").asText() + ")"
                    + (u.hasNonNull("email") ? " <" + u.path("email").asText() + ">" : ""));
            JsonNode session = u.path("session");
            f.add("Signed in with", session.path("kind").asText().equals("session")
                    ? "login session (automatic logoff after " + u.path("idleTimeoutMinutes").asInt() + " min idle)"
                    : "API token " + session.path("id").asText());
            f.add("Roles", UserCommand.roles(u.path("roles")));
            if (u.path("mustChangePassword").asBoolean()) {
                f.add("Password", "must be changed first: carevisor passwd");
            }
            f.print(root);
            Table t = new Table("ROLE", "SCOPE", "PRIVILEGES");
            for (JsonNode g : u.path("privileges")) {
                t.row(g.path("role").asText(), g.path("scope").asText(), String.join(", ",
                        Format.strings(g.path("privileges"))));
            }
            root.out.println();
            t.print(root.out);
        }
    }

    /** "Label: value" lines with aligned values. */
    static final class Labeled {
        private final List<String[]> lines = new ArrayList<>();

        Labeled add(String label, String value) {
            lines.add(new String[] {label, value});
            return this;
        }

        void print(CarevisorCli root) {
            int width = lines.stream().mapToInt(l -> l[0].length()).max().orElse(0);
            for (String[] l : lines) {
                root.out.println(l[0] + ":" + " ".repeat(width - l[0].length() + 1) + l[1]);
            }
        }
    }

    @Command(name = "passwd", mixinStandardHelpOptions = true, description = {
            "Change your password (asks for the current one and twice for the new one).",
            "With --password-stdin: two lines of standard input, the current then the new password."})
    static final class Passwd implements Runnable {
        @ParentCommand
        CarevisorCli root;

        @Option(names = "--password-stdin", description = "read the current and the new password from standard input")
        boolean passwordStdin;

        @Override
        public void run() {
            String current = root.password("Current password: ", passwordStdin);
            String next = root.password("New password: ", passwordStdin);
            if (!passwordStdin) {
                String again = root.password("New password again: ", false);
                if (!again.equals(next)) {
                    throw new CliException(ExitCodes.USAGE, "the new passwords differ; nothing was changed");
                }
            }
            root.api().post("/api/v1/auth/password", ApiClient.json().createObjectNode()
                    .put("currentPassword", current).put("newPassword", next));
            root.out.println("Password changed.");
        }
    }
}
