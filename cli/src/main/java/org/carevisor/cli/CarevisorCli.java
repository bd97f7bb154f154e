package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.Charset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** The {@code carevisor} command: a thin client of the manager's REST API. */
@Command(name = "carevisor", mixinStandardHelpOptions = true, version = "carevisor 0.1.0",
        description = "Manage Carevisor hosts, images, VMs and tasks through the manager's REST API.",
        subcommands = {AuthCommands.Login.class, AuthCommands.Logout.class, AuthCommands.WhoAmI.class,
                AuthCommands.Passwd.class, TokenCommand.class, UserCommand.class, RoleCommand.class,
                SettingsCommand.class, HealthCommand.class, ClusterCommand.class, HostCommand.class, HaCommand.class,
                NetworkCommand.class, ImageCommand.class, VmCommand.class, RuleCommand.class, SnapshotCommand.class,
                TemplateCommand.class, TaskCommand.class, AuditCommand.class, SiteCommand.class,
                CommandLine.HelpCommand.class},
        footer = {"",
                "Log in first: carevisor login USER. The session is kept in --session-file, else",
                "$CAREVISOR_SESSION_FILE, else var/cli/session (under $CAREVISOR_VAR if set).",
                "Scripts can instead pass an API token (carevisor token create) with --token",
                "or $CAREVISOR_TOKEN.",
                "",
                "The manager URL comes from --url, else $CAREVISOR_URL, else",
                "var/manager/manager.url (under $CAREVISOR_VAR if set), else the session's,",
                "else https://127.0.0.1:7700. The manager's certificate must be trusted: a",
                "public or system CA, --ca FILE ($CAREVISOR_CA), var/manager/pki/api-ca.crt when",
                "run beside the manager, or trusted on first use (asked, or --trust-fingerprint).",
                "",
                "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict (e.g. VM running),",
                "  5 invalid request, 6 task failed, 7 manager unreachable, 8 timed out waiting,",
                "  9 not authenticated (log in), 10 forbidden (missing privilege, locked account,",
                "  password change due), 11 the manager's certificate is not trusted,",
                "  12 a reason (--reason) or an electronic signature (--sign) is missing or was refused"})
public final class CarevisorCli implements Runnable {
    @Option(names = "--url", scope = ScopeType.INHERIT, paramLabel = "URL", description = "manager URL")
    String url;

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "print JSON instead of tables")
    boolean json;

    @Option(names = "--token", scope = ScopeType.INHERIT, paramLabel = "TOKEN",
            description = "API or session token (default: $CAREVISOR_TOKEN, else the login session)")
    String tokenOption;

    @Option(names = "--reason", scope = ScopeType.INHERIT, paramLabel = "TEXT",
            description = "why you make this change; kept in the audit trail")
    String reason;

    @Option(names = "--ca", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "CA certificate (PEM) that issued the manager's certificate (default: $CAREVISOR_CA)")
    Path caOption;

    @Option(names = "--trust-fingerprint", scope = ScopeType.INHERIT, paramLabel = "SHA256",
            description = "trust the manager's certificate (authority) with this fingerprint, and remember it")
    String trustFingerprint;

    @Option(names = "--session-file", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "login session file (default: $CAREVISOR_SESSION_FILE, else var/cli/session)")
    Path sessionFileOption;

    final PrintStream out;
    final PrintStream err;

    /** Environment variables (tests replace it). */
    Function<String, String> env = System::getenv;
    private String presetToken;
    private Path presetSessionFile;
    private Function<String, String> passwords;
    private InputStream stdin = System.in;
    private BufferedReader stdinLines;

    public CarevisorCli() {
        this(System.out, System.err);
    }

    /** A CLI that prints to the given streams (tests, embedding). */
    public CarevisorCli(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    /** Uses this token (as --token does) instead of $CAREVISOR_TOKEN or the session file; null: none set. */
    public CarevisorCli token(String token) {
        this.presetToken = token;
        return this;
    }

    /**
     * Asks {@code prompt} (e.g. "Password of alice to sign (approved): ") for passwords instead of the console,
     * for tests and embedding; --password-stdin still reads standard input.
     */
    public CarevisorCli passwords(Function<String, String> prompt) {
        this.passwords = prompt;
        return this;
    }

    /** Keeps the login session in this file (as --session-file does). */
    public CarevisorCli sessionFile(Path file) {
        this.presetSessionFile = file;
        return this;
    }

    /** Reads --password-stdin input from this stream instead of System.in. */
    public CarevisorCli stdin(InputStream in) {
        this.stdin = in;
        this.stdinLines = null;
        return this;
    }

    @Override
    public void run() {
        new CommandLine(this).usage(out);
    }

    /** A client of the manager with this command's credentials and reason. */
    ApiClient api() {
        String base = resolveUrl();
        Credentials c = credentials(base);
        return client(base, c.token(), c.username());
    }

    /** A client of the manager without credentials (login). */
    ApiClient anonymousApi() {
        return client(resolveUrl(), null, null);
    }

    /**
     * A client of {@code base} with {@code token} and {@code user} (both may be null), this command's reason and
     * certificate trust.
     */
    ApiClient client(String base, String token, String user) {
        if (base.regionMatches(true, 0, "http://", 0, 7) && !local(base)) {
            throw new CliException(ExitCodes.USAGE, "refusing to talk to " + base + " over plain HTTP: passwords and"
                    + " tokens would cross the network in clear. Use https:// (the manager serves HTTPS by default)");
        }
        return new ApiClient(base, token, reason, user, trust(base), this::askTrust);
    }

    /** True when {@code base} names a manager on this machine (localhost or a loopback address). */
    static boolean local(String base) {
        try {
            String host = java.net.URI.create(base.strip()).getHost();
            if (host == null) {
                return false;
            }
            host = host.replaceAll("^\\[|]$", "");
            if (host.equalsIgnoreCase("localhost")) {
                return true;
            }
            if (!host.matches("[0-9.]+|[0-9A-Fa-f:]+")) {
                return false; // a name other than localhost is never taken for this machine
            }
            return java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (IllegalArgumentException | java.net.UnknownHostException e) {
            return false;
        }
    }

    /** The certificates accepted from the manager at {@code base} (see {@link ManagerTrust}). */
    ManagerTrust trust(String base) {
        java.util.List<Path> cas = new java.util.ArrayList<>();
        String envCa = env.apply("CAREVISOR_CA");
        Path explicit = caOption != null ? caOption : envCa != null && !envCa.isBlank() ? Path.of(envCa) : null;
        if (explicit != null) {
            if (!Files.isRegularFile(explicit)) {
                throw new CliException(ExitCodes.USAGE, "--ca " + explicit + ": no such file (a PEM CA certificate,"
                        + " e.g. var/manager/pki/api-ca.crt of the manager's machine)");
            }
            cas.add(explicit);
        }
        if (local(base)) {
            cas.add(varDir().resolve("manager").resolve("pki").resolve("api-ca.crt"));
        }
        return new ManagerTrust(cas, knownManagersFile(), base);
    }

    /** Where certificates trusted on first use are kept: beside the session file. */
    Path knownManagersFile() {
        Path parent = sessionFile().toAbsolutePath().getParent();
        return parent.resolve("known-managers");
    }

    /**
     * Trust on first use: with --trust-fingerprint the presented certificate is trusted when its fingerprint
     * matches; on a terminal the user is shown the certificate and asked. Never for a changed certificate.
     */
    private boolean askTrust(ManagerTrust t) {
        String fp = ManagerTrust.fingerprint(t.anchor());
        String known = t.knownFingerprint();
        if (trustFingerprint != null && !trustFingerprint.isBlank()) {
            String want = trustFingerprint.strip().toLowerCase(java.util.Locale.ROOT).replace(":", "")
                    .replaceFirst("^sha256", "");
            if (!fp.replace("sha256:", "").equals(want)) {
                throw new CliException(ExitCodes.UNTRUSTED, "the manager presented a certificate with fingerprint "
                        + fp + ", not the " + trustFingerprint.strip() + " given with --trust-fingerprint;"
                        + " nothing was sent to it.\n" + Certificates.describe(t));
            }
            t.pin(t.anchor());
            err.println("carevisor: trusting the manager's certificate " + fp + " from now on (kept in "
                    + knownManagersFile() + ")");
            return true;
        }
        if (known != null || System.console() == null || passwords != null) {
            return false; // a changed certificate is never trusted by a keystroke; scripts get the error
        }
        Console console = System.console();
        console.printf("The manager at %s presented a certificate this CLI does not trust yet:%n%s%n",
                t.presented() == null ? "" : resolveUrl(), Certificates.describe(t));
        console.printf("Compare the fingerprint with the one the manager printed at its start.%n");
        String answer = console.readLine("Trust it for this manager from now on? [y/N] ");
        if (answer == null || !answer.strip().toLowerCase(java.util.Locale.ROOT).startsWith("y")) {
            return false;
        }
        t.pin(t.anchor());
        return true;
    }

    String resolveUrl() {
        if (url != null && !url.isBlank()) {
            return url;
        }
        String env = this.env.apply("CAREVISOR_URL");
        if (env != null && !env.isBlank()) {
            return env;
        }
        Path file = varDir().resolve("manager").resolve("manager.url");
        try {
            if (Files.exists(file)) {
                return Files.readString(file).strip();
            }
        } catch (IOException e) {
            // fall back to the session's or the default
        }
        try {
            Session s = Session.read(sessionFile());
            if (s != null && s.url() != null && !s.url().isBlank()) {
                return s.url();
            }
        } catch (CliException e) {
            // a damaged session file: reported when its token is needed
        }
        return "https://127.0.0.1:7700";
    }

    private Path varDir() {
        String var = env.apply("CAREVISOR_VAR");
        return Path.of(var == null || var.isBlank() ? "var" : var);
    }

    /** The session file: --session-file, else $CAREVISOR_SESSION_FILE, else var/cli/session. */
    Path sessionFile() {
        if (sessionFileOption != null) {
            return sessionFileOption;
        }
        if (presetSessionFile != null) {
            return presetSessionFile;
        }
        String env = this.env.apply("CAREVISOR_SESSION_FILE");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        return varDir().resolve("cli").resolve("session");
    }

    /** The token of a request and where it came from; username when known without asking the manager. */
    record Credentials(String token, String source, String username) {
    }

    /** The token given with --token or {@link #token(String)}, or null. */
    String explicitToken() {
        if (tokenOption != null && !tokenOption.isBlank()) {
            return tokenOption;
        }
        return presetToken != null && !presetToken.isBlank() ? presetToken : null;
    }

    /** --token, else {@link #token(String)}, else $CAREVISOR_TOKEN, else the session for {@code base}. */
    Credentials credentials(String base) {
        if (explicitToken() != null) {
            return new Credentials(explicitToken(), "--token", null);
        }
        String env = this.env.apply("CAREVISOR_TOKEN");
        if (env != null && !env.isBlank()) {
            return new Credentials(env, "CAREVISOR_TOKEN", null);
        }
        Session s = Session.read(sessionFile());
        if (s != null && s.isFor(base)) {
            return new Credentials(s.token(), "session", s.username());
        }
        return new Credentials(null, null, s == null ? null : s.username());
    }

    /** The logged-in user's name: from the session when its token is used, else from the manager. */
    String currentUser() {
        String base = resolveUrl();
        Credentials c = credentials(base);
        if (c.source() != null && c.source().equals("session") && c.username() != null) {
            return c.username();
        }
        return api().get("/api/v1/auth/whoami").path("username").asText();
    }

    /**
     * A password: one line of standard input with {@code fromStdin}, else from {@link #passwords}, else asked
     * on the console without echo.
     */
    String password(String prompt, boolean fromStdin) {
        if (fromStdin) {
            String line = stdinLine();
            if (line == null) {
                throw new CliException(ExitCodes.USAGE, "--password-stdin: standard input ended before the password");
            }
            return line;
        }
        if (passwords != null) {
            String p = passwords.apply(prompt);
            if (p == null) {
                throw new CliException(ExitCodes.USAGE, "no password given");
            }
            return p;
        }
        Console console = System.console();
        if (console == null) {
            throw new CliException(ExitCodes.USAGE, "no terminal to ask for the password on; use --password-stdin");
        }
        char[] p = console.readPassword("%s", prompt);
        if (p == null) {
            throw new CliException(ExitCodes.USAGE, "no password given");
        }
        return new String(p);
    }

    /** One line of standard input without its line break, or null at its end. */
    String stdinLine() {
        try {
            if (stdinLines == null) {
                stdinLines = new BufferedReader(new InputStreamReader(stdin, stdin == System.in
                        ? Charset.defaultCharset() : java.nio.charset.StandardCharsets.UTF_8));
            }
            String line = stdinLines.readLine();
            return line == null ? null : line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
        } catch (IOException e) {
            throw new CliException(ExitCodes.ERROR, "cannot read standard input: " + e.getMessage());
        }
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
