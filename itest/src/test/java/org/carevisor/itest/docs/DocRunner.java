package org.carevisor.itest.docs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;

/**
 * Runs a document's shell commands in order, as a new user following it would, and checks each against its
 * expectations ({@link Expectations}, the file {@code DOC.expect} beside the document). A sandbox stands in for a
 * fresh clone: links to the checkout's files with an empty {@code var/}, so {@code ./carevisor} and the paths the
 * document names ({@code var/manager/...}) are those of a first start. Everything a command printed is kept in
 * {@code transcript.txt} of the run's directory; a failure names the document, the section, the line and the
 * command, with the end of its output.
 */
final class DocRunner {
    /** How a document's run ended. */
    record Outcome(int ran, int skipped, String stoppedBecause) {
    }

    private final Path repo;
    private final String document;
    private final Path sandbox;
    private final Path work;
    private final boolean root;
    private final Map<String, String> saved = new LinkedHashMap<>();
    private final StringBuilder transcript = new StringBuilder();

    DocRunner(Path repo, String document, Path runDir, boolean root) {
        this.repo = repo;
        this.document = document;
        this.sandbox = runDir.resolve("clone");
        this.work = runDir.resolve("shell");
        this.root = root;
    }

    Path sandbox() {
        return sandbox;
    }

    /** The document's commands, each with its entry, or why the expectations do not fit the document. */
    static List<Map.Entry<ShellBlocks.Command, Expectations.Entry>> align(String document,
            List<ShellBlocks.Command> commands, Expectations expectations) {
        List<Map.Entry<ShellBlocks.Command, Expectations.Entry>> out = new ArrayList<>();
        List<Expectations.Entry> entries = expectations.entries();
        int next = 0;
        for (ShellBlocks.Command c : commands) {
            if (next < entries.size() && entries.get(next).command().equals(c.key())) {
                out.add(Map.entry(c, entries.get(next++)));
            } else {
                out.add(Map.entry(c, Expectations.Entry.plain(c.key())));
            }
        }
        if (next < entries.size()) {
            Expectations.Entry e = entries.get(next);
            throw new AssertionError(document + ".expect line " + e.line() + " expects the command '" + e.command()
                    + "', which " + document + " does not have (after the commands matched before it, in order):"
                    + " was the document changed? Change both together.");
        }
        return out;
    }

    Outcome run() throws IOException {
        String markdown = Files.readString(repo.resolve(document), StandardCharsets.UTF_8);
        Expectations expectations = Expectations.parse(Files.readString(repo.resolve(document + ".expect"),
                StandardCharsets.UTF_8));
        List<Map.Entry<ShellBlocks.Command, Expectations.Entry>> plan = align(document, ShellBlocks.parse(markdown),
                expectations);
        makeSandbox();
        int ran = 0;
        int skipped = 0;
        try (DocShell shell = new DocShell(sandbox, work, environment())) {
            for (String s : expectations.setup()) {
                DocShell.Result r = shell.run(s, Duration.ofMinutes(5));
                log("setup", s, null, r);
                if (r.exit() != 0) {
                    throw new AssertionError(document + ": the setup command '" + s + "' of " + document
                            + ".expect exited " + r.exit() + ":\n" + tail(r.output()));
                }
            }
            for (Map.Entry<ShellBlocks.Command, Expectations.Entry> step : plan) {
                ShellBlocks.Command c = step.getKey();
                Expectations.Entry e = step.getValue();
                if (e.root() && !root) {
                    return new Outcome(ran, skipped, c.where() + ": '" + c.key() + "' and what follows need root");
                }
                if (e.skip() != null) {
                    transcript.append("\n### ").append(c.where()).append(": ").append(c.key()).append("\n(not run: ")
                            .append(e.skip()).append(")\n");
                    skipped++;
                    continue;
                }
                check(shell, c, e);
                ran++;
            }
        } finally {
            Files.writeString(work.resolve("transcript.txt"), transcript);
        }
        return new Outcome(ran, skipped, null);
    }

    private void check(DocShell shell, ShellBlocks.Command c, Expectations.Entry e) throws IOException {
        String command = e.run() != null ? e.run() : c.text();
        Instant until = Instant.now().plusSeconds(e.retrySeconds());
        for (int attempt = 1; ; attempt++) {
            DocShell.Result r = e.typing().isEmpty() ? shell.run(command, Duration.ofSeconds(e.timeoutSeconds()))
                    : shell.runInTerminal(command, e.typing(), saved, Duration.ofSeconds(e.timeoutSeconds()));
            log(c.where() + (attempt > 1 ? " (attempt " + attempt + ")" : ""), c.key(), e.run(), r);
            String problem = problem(e, r);
            if (problem == null) {
                for (Expectations.Save s : e.saves()) {
                    Matcher m = s.pattern().matcher(r.output());
                    if (!m.find()) {
                        throw failure(c, e, r, "nothing in the output matches /" + s.pattern() + "/ (save " + s.name()
                                + ")");
                    }
                    saved.put(s.name(), m.group(1));
                    shell.set(s.name(), m.group(1));
                }
                return;
            }
            if (r.timedOut() || Instant.now().isAfter(until)) {
                throw failure(c, e, r, problem + (attempt > 1 ? " (after " + attempt + " attempts)" : ""));
            }
            sleep(2000);
        }
    }

    private static String problem(Expectations.Entry e, DocShell.Result r) {
        if (r.timedOut()) {
            return "it did not end within " + e.timeoutSeconds() + " s";
        }
        List<String> wrong = new ArrayList<>();
        if (r.exit() != e.exit()) {
            wrong.add("it exited " + r.exit() + " (expected " + e.exit() + ")");
        }
        for (String want : e.expect()) {
            if (!r.output().contains(want)) {
                wrong.add("its output lacks '" + want + "'");
            }
        }
        for (String not : e.reject()) {
            if (r.output().contains(not)) {
                wrong.add("its output has '" + not + "'");
            }
        }
        return wrong.isEmpty() ? null : String.join("; ", wrong);
    }

    private AssertionError failure(ShellBlocks.Command c, Expectations.Entry e, DocShell.Result r, String problem) {
        return new AssertionError(document + ", " + c.where() + ": '" + c.key() + "'"
                + (e.run() != null ? " (run as '" + e.run() + "')" : "") + ": " + problem + ". Output:\n"
                + tail(r.output()) + "\n(the whole run: " + work.resolve("transcript.txt") + "; logs under "
                + sandbox.resolve("var") + ")");
    }

    private void log(String where, String command, String run, DocShell.Result r) {
        transcript.append("\n### ").append(where).append(": ").append(command).append('\n');
        if (run != null) {
            transcript.append("(run as: ").append(run).append(")\n");
        }
        transcript.append(r.output());
        if (!r.output().endsWith("\n")) {
            transcript.append('\n');
        }
        transcript.append("[exit ").append(r.exit()).append(r.timedOut() ? ", timed out" : "").append("]\n");
    }

    private static String tail(String output) {
        String[] lines = output.split("\n");
        int from = Math.max(0, lines.length - 40);
        return (from > 0 ? "  ...\n" : "") + String.join("\n", java.util.Arrays.asList(lines).subList(from,
                lines.length)).indent(2);
    }

    /**
     * A fresh clone's view: a link to each of the checkout's files and directories (a copy of the launcher), no
     * var/, no earlier state.
     */
    private void makeSandbox() throws IOException {
        org.carevisor.agent.storage.FileTrees.delete(sandbox.getParent());
        Files.createDirectories(sandbox);
        Files.createDirectories(work);
        Files.createDirectories(sandbox.resolve(".home"));
        Files.createDirectories(sandbox.resolve(".bin"));
        try (var entries = Files.list(repo)) {
            for (Path p : entries.toList()) {
                String name = p.getFileName().toString();
                if (name.equals("var") || name.equals(".git") || name.equals("target")) {
                    continue;
                }
                if (name.equals("carevisor")) {
                    // a copy: the launcher finds its checkout through links, and this one is the sandbox
                    Files.copy(p, sandbox.resolve(name), java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
                } else {
                    Files.createSymbolicLink(sandbox.resolve(name), p);
                }
            }
        }
    }

    /**
     * The reader's environment: this test's, without any Carevisor setting that would point elsewhere, a home of
     * the sandbox's own (nothing of the test machine's user is read or written), and the build just made by the
     * test run (the commands do not build again).
     */
    private Map<String, String> environment() {
        Map<String, String> env = new HashMap<>();
        System.getenv().forEach((k, v) -> {
            if (!k.startsWith("CAREVISOR_") && !k.startsWith("MAVEN") && !k.equals("OLDPWD") && !k.equals("PWD")) {
                env.put(k, v);
            }
        });
        env.put("HOME", sandbox.resolve(".home").toString());
        env.put("CAREVISOR_SKIP_BUILD", "1");
        env.put("SHELL", "/bin/bash");
        env.put("TERM", "dumb");
        env.put("LANG", "C.UTF-8");
        // where a document's "link it into the PATH" goes in this run (the machine's /usr/local/bin stays as it is)
        env.put("PATH", sandbox.resolve(".bin") + ":" + env.getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"));
        return env;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
