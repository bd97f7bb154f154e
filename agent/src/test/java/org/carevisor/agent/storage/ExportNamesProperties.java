package org.carevisor.agent.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.carevisor.agent.AgentException;

/** Whatever string reaches them, the agent's export name rules accept only names that stay where they belong. */
class ExportNamesProperties {
    private static final Path ROOT = Path.of("/srv/storage");

    @Provide
    Arbitrary<String> hostile() {
        Arbitrary<String> fragment = Arbitraries.of("exports/", "archive/", "vms/", "local/", "disks/", "../", "..",
                "/", ".", "./", ".cva", ".qcow2", ".raw", "\0", "\\", "\n", " ", "x", "ehr-01", "é",
                "0f0e0d0c-0b0a-4909-8807-060504030201", "%2e%2e", "//", "qcow2", "raw", "disk0");
        Arbitrary<String> joined = fragment.list().ofMaxSize(8).map(l -> String.join("", l));
        return Arbitraries.oneOf(joined, Arbitraries.strings().ofMaxLength(300), Arbitraries.strings()
                .withChars("./\\abcvx-_0\0").ofMaxLength(40));
    }

    @Property(tries = 3000)
    void importSourcesStayInExportsOrArchive(@ForAll("hostile") String source) {
        String ok;
        try {
            ok = ExportNames.importSource(source);
        } catch (AgentException e) {
            assertThat(e.code()).isEqualTo("import-source-refused");
            return;
        }
        Path p = ROOT.resolve(ok).normalize();
        assertThat(p.getParent()).isIn(ROOT.resolve("exports"), ROOT.resolve("archive"));
        assertThat(ok).doesNotContain("..", "\\", "\0").endsWith(".cva");
        assertThat(p.getFileName().toString()).doesNotStartWith(".");
    }

    @Property(tries = 3000)
    void exportTargetsStayInExportsOrArchive(@ForAll("hostile") String target) {
        String ok;
        try {
            ok = ExportNames.exportTarget(target);
        } catch (AgentException e) {
            assertThat(e.code()).isEqualTo("invalid-export-target");
            return;
        }
        assertThat(ROOT.resolve(ok).normalize().getParent()).isIn(ROOT.resolve("exports"), ROOT.resolve("archive"));
    }

    @Property(tries = 3000)
    void importTargetsAreVmDirectories(@ForAll("hostile") String target) {
        String ok;
        try {
            ok = ExportNames.importTarget(target);
        } catch (AgentException e) {
            assertThat(e.code()).isEqualTo("invalid-import-target");
            return;
        }
        assertThat(ROOT.resolve(ok).normalize().getParent()).isIn(ROOT.resolve("vms"), ROOT.resolve("local/vms"));
    }

    @Property(tries = 3000)
    void membersAreFilesDirectlyInDisks(@ForAll("hostile") String id, @ForAll("hostile") String format) {
        String member;
        try {
            member = ExportNames.member(id, format);
        } catch (AgentException e) {
            assertThat(e.code()).isIn("invalid-disk-id", "invalid-format");
            return;
        }
        Path work = Path.of("/srv/storage/vms/.import-x");
        Path file = work.resolve(member).normalize();
        assertThat(file.getParent()).isEqualTo(work.resolve("disks"));
        assertThat(work.resolve(id + "." + format).normalize().getParent()).isEqualTo(work);
        assertThat(format).isIn("qcow2", "raw");
    }

    @Property(tries = 1000)
    void printableNeverCarriesControlCharacters(@ForAll String s) {
        assertThat(ExportNames.printable(s).chars().noneMatch(Character::isISOControl)).isTrue();
        assertThat(ExportNames.printable(s).length()).isLessThanOrEqualTo(130);
    }
}
