package org.carevisor.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** A guest's console output printed on the operator's terminal keeps its text and loses its escape sequences. */
class TerminalTextTest {
    @Test
    void textStaysEscapesGo() {
        assertThat(TerminalText.safe("login: \u001b[6n")).isEqualTo("login: ");
        assertThat(TerminalText.safe("\u001b[1;32mOK\u001b[0m done\r\n")).isEqualTo("OK done\r\n");
        assertThat(TerminalText.safe("a\u001b]0;evil title\u0007b")).isEqualTo("ab");
        assertThat(TerminalText.safe("a\u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\b")).isEqualTo("alinkb");
        assertThat(TerminalText.safe("x\u001bcy\u001b(0z")).isEqualTo("xyz");
        assertThat(TerminalText.safe("bell\u0007 back\bspace\u009b31m")).isEqualTo("bell backspace");
        assertThat(TerminalText.safe("Röntgen 放射線科\ttab\n")).isEqualTo("Röntgen 放射線科\ttab\n");
        assertThat(TerminalText.safe("ends in ESC \u001b")).isEqualTo("ends in ESC ");
    }
}
