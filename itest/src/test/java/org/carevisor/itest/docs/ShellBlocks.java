package org.carevisor.itest.docs;

import java.util.ArrayList;
import java.util.List;

/**
 * The shell commands of a Markdown document, in order: every line of a {@code ```sh} block that is not blank nor a
 * comment, with a line ending in a backslash continued on the next (kept as written: the shell joins them). Each command knows the heading it stands under and
 * its line, so that a failure names where the reader finds it.
 */
final class ShellBlocks {
    /** One command as the document shows it. */
    record Command(String section, int line, String text) {
        /** The command without its trailing comment, whitespace collapsed: what the expectations name. */
        String key() {
            return key(text);
        }

        static String key(String text) {
            return withoutComment(text.replace("\\\n", " ")).strip().replaceAll("\\s+", " ");
        }

        String where() {
            return "section \"" + section + "\", line " + line;
        }
    }

    private ShellBlocks() {
    }

    static List<Command> parse(String markdown) {
        List<Command> out = new ArrayList<>();
        String section = "(before the first heading)";
        boolean inShell = false;
        boolean inOther = false;
        StringBuilder pending = null;
        int pendingLine = 0;
        String[] lines = markdown.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].replace("\r", "");
            if (inShell || inOther) {
                if (line.strip().startsWith("```")) {
                    if (pending != null) {
                        throw new IllegalArgumentException("line " + pendingLine + ": the block ends inside a command"
                                + " continued with a backslash");
                    }
                    inShell = false;
                    inOther = false;
                    continue;
                }
                if (inOther) {
                    continue;
                }
                String body = line.strip();
                if (pending == null && (body.isEmpty() || body.startsWith("#"))) {
                    continue;
                }
                if (pending == null) {
                    pending = new StringBuilder();
                    pendingLine = i + 1;
                } else {
                    pending.append('\n');
                }
                pending.append(line);
                if (line.endsWith("\\")) {
                    continue;
                }
                out.add(new Command(section, pendingLine, pending.toString().strip()));
                pending = null;
                continue;
            }
            if (line.startsWith("```")) {
                String info = line.substring(3).strip();
                inShell = info.equals("sh") || info.equals("bash") || info.equals("shell");
                inOther = !inShell;
            } else if (line.startsWith("#")) {
                section = line.replaceFirst("^#+\\s*", "").strip();
            }
        }
        return out;
    }

    /** {@code text} without a comment that starts outside quotes at a {@code #} after whitespace. */
    static String withoutComment(String text) {
        char quote = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else if (c == '\\' && quote == '"') {
                    i++;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '\\') {
                i++;
            } else if (c == '#' && (i == 0 || Character.isWhitespace(text.charAt(i - 1)))) {
                return text.substring(0, i).stripTrailing();
            }
        }
        return text;
    }
}
