package org.carevisor.cli;

import java.util.regex.Pattern;

/**
 * Text from a guest (its serial console) made safe for the operator's terminal: a guest is untrusted, and escape
 * sequences in its output could query the terminal ({@code ESC[6n}, whose answer lands on the operator's input),
 * retitle it, move the cursor over earlier lines or switch character sets. Kept: printable text, line feeds,
 * carriage returns and tabs. Thread-safe (stateless).
 */
final class TerminalText {
    /**
     * CSI (ESC [ ... final byte), OSC/DCS/PM/APC strings (to BEL or ESC \), character set designations (ESC ( 0),
     * any other ESC + one character, and 8-bit CSI.
     */
    private static final Pattern ESCAPES = Pattern.compile(
            "\u001b\\[[0-?]*[ -/]*[@-~]?|\u001b[\\]PX^_][^\u0007\u001b]*(\u0007|\u001b\\\\)?|\u001b[()*+\\-./#%].?|\u001b.?|\u009b[0-?]*[ -/]*[@-~]?");
    /** C0 controls except tab, line feed and carriage return; DEL; C1 controls. */
    private static final Pattern CONTROLS = Pattern.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]");

    private TerminalText() {
    }

    static String safe(String text) {
        if (text == null || text.isEmpty()) {
            return text;
        }
        return CONTROLS.matcher(ESCAPES.matcher(text).replaceAll("")).replaceAll("");
    }
}
