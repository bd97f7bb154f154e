package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** The {@code carevisor} command: a thin client of the manager's REST API. */
@Command(name = "carevisor", mixinStandardHelpOptions = true, version = "carevisor 0.1.0",
        description = "Manage Carevisor hosts, images, VMs and tasks through the manager's REST API.",
        subcommands = {HealthCommand.class, ClusterCommand.class, HostCommand.class, NetworkCommand.class,
                ImageCommand.class, VmCommand.class, RuleCommand.class, SnapshotCommand.class, TemplateCommand.class,
                TaskCommand.class, AuditCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "The manager URL comes from --url, else $CAREVISOR_URL, else",
                "var/manager/manager.url (under $CAREVISOR_VAR if set),", "else http://127.0.0.1:7700.", "",
                "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict (e.g. VM running),",
                "  5 invalid request, 6 task failed, 7 manager unreachable, 8 timed out waiting"})
public final class CarevisorCli implements Runnable {
    @Option(names = "--url", scope = ScopeType.INHERIT, paramLabel = "URL", description = "manager URL")
    String url;

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "print JSON instead of tables")
    boolean json;

    final PrintStream out;
    final PrintStream err;

    public CarevisorCli() {
        this(System.out, System.err);
    }

    /** A CLI that prints to the given streams (tests, embedding). */
    public CarevisorCli(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public void run() {
        new CommandLine(this).usage(out);
    }

    ApiClient api() {
        return new ApiClient(resolveUrl());
    }

    String resolveUrl() {
        if (url != null && !url.isBlank()) {
            return url;
        }
        String env = System.getenv("CAREVISOR_URL");
        if (env != null && !env.isBlank()) {
            return env;
        }
        String var = System.getenv("CAREVISOR_VAR");
        Path file = Path.of(var == null || var.isBlank() ? "var" : var, "manager", "manager.url");
        try {
            if (Files.exists(file)) {
                return Files.readString(file).strip();
            }
        } catch (IOException e) {
            // fall back to the default
        }
        return "http://127.0.0.1:7700";
    }

    /** Prints a JSON value (for --json). */
    void printJson(JsonNode node) {
        try {
            out.println(ApiClient.json().writerWithDefaultPrettyPrinter().writeValueAsString(node));
        } catch (IOException e) {
            throw new CliException(ExitCodes.ERROR, e.getMessage());
        }
    }

    public static void main(String[] args) {
        System.exit(execute(new CarevisorCli(), args));
    }

    /** Runs the command and returns its exit code (used by main and by tests). */
    public static int execute(CarevisorCli root, String... args) {
        CommandLine cmd = new CommandLine(root);
        cmd.setOut(new java.io.PrintWriter(root.out, true));
        cmd.setErr(new java.io.PrintWriter(root.err, true));
        cmd.setExecutionExceptionHandler((e, line, parsed) -> {
            if (e instanceof CliException c) {
                root.err.println("carevisor: " + c.getMessage());
                return c.exitCode();
            }
            root.err.println("carevisor: unexpected error: " + e);
            return ExitCodes.ERROR;
        });
        return cmd.execute(args);
    }
}
