package org.carevisor.itest.docs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The documentation runner itself, on small documents: which lines are commands, how expectations attach, and that
 * a command that does not do what its expectation says fails the run naming document, section, line and command
 * (real bash, no Carevisor).
 */
class DocRunnerTest {
    private static final String DOC = """
            # Title

            Text with `inline code`.

            ```sh
            echo one   # a comment
            # a comment line

            X=two; \\
              echo "$X # not a comment"
            ```

            ## Second

            ```json
            {"not": "a command"}
            ```

            ```sh
            printf 'Password: '; read -r p; echo "got $p"
            echo three
            ```
            """;

    @Test
    void commandsWithSectionsLinesAndContinuations() {
        List<ShellBlocks.Command> c = ShellBlocks.parse(DOC);
        assertThat(c).extracting(ShellBlocks.Command::key).containsExactly("echo one",
                "X=two; echo \"$X # not a comment\"", "printf 'Password: '; read -r p; echo \"got $p\"", "echo three");
        assertThat(c).extracting(ShellBlocks.Command::section).containsExactly("Title", "Title", "Second", "Second");
        assertThat(c).extracting(ShellBlocks.Command::line).containsExactly(6, 9, 20, 21);
        assertThat(c.get(1).text()).isEqualTo("X=two; \\\n  echo \"$X # not a comment\"");
    }

    @Test
    void expectationsAttachInOrderAndMustAllMatch() {
        Expectations e = Expectations.parse("""
                setup: true
                command: echo one    # comments of the document do not count
                expect: one
                command: echo three
                exit: 0
                """);
        var plan = DocRunner.align("DOC.md", ShellBlocks.parse(DOC), e);
        assertThat(plan).extracting(p -> p.getValue().expect()).containsExactly(List.of("one"), List.of(), List.of(),
                List.of());
        assertThatThrownBy(() -> DocRunner.align("DOC.md", ShellBlocks.parse(DOC), Expectations.parse(
                "command: echo three\ncommand: echo one\n"))).hasMessageContaining("DOC.md.expect line 2")
                .hasMessageContaining("'echo one'");
        assertThatThrownBy(() -> Expectations.parse("command: x\nrun: y\n")).hasMessageContaining("needs a why");
        assertThatThrownBy(() -> Expectations.parse("expect: x\n")).hasMessageContaining("only setup:");
        assertThatThrownBy(() -> Expectations.parse("command: x\nwhatever: y\n")).hasMessageContaining("unknown");
    }

    @Test
    void runsInOneShellTypesAtPromptsAndNamesWhatFailed(@TempDir Path dir) throws Exception {
        Path repo = Files.createDirectories(dir.resolve("repo"));
        Files.writeString(repo.resolve("DOC.md"), DOC);
        Files.writeString(repo.resolve("DOC.md.expect"), """
                command: echo one
                expect: one
                command: X=two; echo "$X # not a comment"
                expect: two # not a comment
                save: WORD (t.o)
                command: printf 'Password: '; read -r p; echo "got $p"
                type: Password: => ${WORD}-typed
                expect: got two-typed
                command: echo three
                expect: four
                """);
        DocRunner runner = new DocRunner(repo, "DOC.md", dir.resolve("run"), false);
        assertThatThrownBy(runner::run).isInstanceOf(AssertionError.class)
                .hasMessageContaining("DOC.md, section \"Second\", line 21: 'echo three': its output lacks 'four'")
                .hasMessageContaining("three");
        String transcript = Files.readString(dir.resolve("run/shell/transcript.txt"));
        assertThat(transcript).contains("got two-typed").contains("[exit 0]");

        Files.writeString(repo.resolve("DOC.md.expect"), """
                command: echo one
                exit: 3
                """);
        assertThatThrownBy(new DocRunner(repo, "DOC.md", dir.resolve("run"), false)::run)
                .hasMessageContaining("section \"Title\", line 6: 'echo one': it exited 0 (expected 3)");
    }
}
