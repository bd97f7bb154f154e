package org.carevisor.itest.docs;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What the documentation run expects of a document's commands, kept beside the document ({@code README.md.expect}):
 * the document stays as a reader needs it, and this file says how a machine runs it and what it must see.
 *
 * <p>Lines are {@code directive: value}; blank lines and lines starting with {@code #} are ignored. Before the first
 * {@code command:}, {@code setup:} lines are run (in order, each must succeed) before the document's first command.
 * Each {@code command:} starts an entry for the document's next command with that text (its trailing comment
 * removed, whitespace collapsed); entries are in the document's order, a command without an entry must simply
 * succeed. Directives of an entry:
 * <ul>
 * <li>{@code exit: N} - the exit code (default 0)</li>
 * <li>{@code expect: TEXT} - the output (standard output and error, terminal escapes removed) contains TEXT;
 *     repeatable</li>
 * <li>{@code reject: TEXT} - the output does not contain TEXT; repeatable</li>
 * <li>{@code type: PROMPT => TEXT} - run in a terminal; when PROMPT appears, TEXT and Enter are typed; in order,
 *     repeatable. TEXT may hold {@code ${NAME}} (saved before) and {@code ${file:PATH}} (a file's first line)</li>
 * <li>{@code save: NAME REGEX} - the first group of REGEX in the output becomes {@code ${NAME}}</li>
 * <li>{@code run: SHELL} with {@code why: TEXT} - runs SHELL instead of the command, saying why (a placeholder
 *     such as {@code <address>}, a command that would run until Ctrl-C)</li>
 * <li>{@code skip: WHY} - not run (what cannot run here), saying why</li>
 * <li>{@code retry: SECONDS} - runs again until the expectations hold, for at most SECONDS (a guest still booting)</li>
 * <li>{@code timeout: SECONDS} - how long one run may take (default 300)</li>
 * <li>{@code root: true} - needs root; without it this command and the rest of the document are not run</li>
 * </ul>
 */
record Expectations(List<String> setup, List<Entry> entries) {
    /** A pair of prompt and what is typed at it. */
    record Typing(String prompt, String text) {
    }

    /** What one command must do. */
    record Entry(int line, String command, String run, String why, String skip, int exit, List<String> expect,
                 List<String> reject, List<Typing> typing, List<Save> saves, int retrySeconds, int timeoutSeconds,
                 boolean root) {
        /** The default for a command without an entry. */
        static Entry plain(String command) {
            return new Entry(0, command, null, null, null, 0, List.of(), List.of(), List.of(), List.of(), 0, 300,
                    false);
        }
    }

    /** A value captured from the output. */
    record Save(String name, Pattern pattern) {
    }

    static Expectations parse(String text) {
        List<String> setup = new ArrayList<>();
        List<Entry> entries = new ArrayList<>();
        Builder b = null;
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon < 1) {
                throw bad(i, "expected 'directive: value', got: " + line);
            }
            String key = line.substring(0, colon).strip();
            String value = line.substring(colon + 1).strip();
            if (key.equals("command")) {
                if (b != null) {
                    entries.add(b.build());
                }
                b = new Builder(i + 1, ShellBlocks.Command.key(value));
                continue;
            }
            if (b == null) {
                if (!key.equals("setup")) {
                    throw bad(i, "only setup: may come before the first command:, not " + key + ":");
                }
                setup.add(value);
                continue;
            }
            switch (key) {
                case "exit" -> b.exit = Integer.parseInt(value);
                case "expect" -> b.expect.add(value);
                case "reject" -> b.reject.add(value);
                case "type" -> {
                    int arrow = value.indexOf("=>");
                    if (arrow < 1) {
                        throw bad(i, "type: wants 'PROMPT => TEXT'");
                    }
                    b.typing.add(new Typing(value.substring(0, arrow).strip(), value.substring(arrow + 2).strip()));
                }
                case "save" -> {
                    String[] parts = value.split("\\s+", 2);
                    if (parts.length != 2 || !parts[0].matches("[A-Za-z][A-Za-z0-9_]*")) {
                        throw bad(i, "save: wants 'NAME REGEX'");
                    }
                    b.saves.add(new Save(parts[0], Pattern.compile(parts[1])));
                }
                case "run" -> b.run = value;
                case "why" -> b.why = value;
                case "skip" -> b.skip = value;
                case "retry" -> b.retry = Integer.parseInt(value);
                case "timeout" -> b.timeout = Integer.parseInt(value);
                case "root" -> b.root = Boolean.parseBoolean(value);
                default -> throw bad(i, "unknown directive " + key + ":");
            }
        }
        if (b != null) {
            entries.add(b.build());
        }
        return new Expectations(List.copyOf(setup), List.copyOf(entries));
    }

    private static IllegalArgumentException bad(int index, String what) {
        return new IllegalArgumentException("expectations line " + (index + 1) + ": " + what);
    }

    private static final class Builder {
        final int line;
        final String command;
        String run;
        String why;
        String skip;
        int exit;
        int retry;
        int timeout = 300;
        boolean root;
        final List<String> expect = new ArrayList<>();
        final List<String> reject = new ArrayList<>();
        final List<Typing> typing = new ArrayList<>();
        final List<Save> saves = new ArrayList<>();

        Builder(int line, String command) {
            this.line = line;
            this.command = command;
        }

        Entry build() {
            if (run != null && (why == null || why.isBlank())) {
                throw new IllegalArgumentException("expectations line " + line + ": run: needs a why:");
            }
            if (skip != null && skip.isBlank()) {
                throw new IllegalArgumentException("expectations line " + line + ": skip: needs its reason");
            }
            return new Entry(line, command, run, why, skip, exit, List.copyOf(expect), List.copyOf(reject),
                    List.copyOf(typing), List.copyOf(saves), retry, timeout, root);
        }
    }
}
