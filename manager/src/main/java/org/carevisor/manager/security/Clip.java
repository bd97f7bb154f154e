package org.carevisor.manager.security;

/**
 * Makes text that came from outside (an agent, a join-token holder) fit for a log line, an error message or
 * an audit column: printable characters only, cut to a length. Stateless.
 */
public final class Clip {
    private Clip() {
    }

    /** {@code s} with control characters replaced by '?', cut to {@code max} characters (null stays null). */
    public static String text(String s, int max) {
        if (s == null) {
            return null;
        }
        String printable = s.codePoints().limit(max + 1L).map(c -> Character.isISOControl(c) ? '?' : c)
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
        return printable.length() <= max ? printable : printable.substring(0, Math.max(0, max - 3)) + "...";
    }
}
