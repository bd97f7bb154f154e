package org.carevisor.agent.storage;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.carevisor.agent.AgentException;
import org.carevisor.testkit.CraftedExport;

/**
 * Random mutations of a valid manifest are either a valid manifest or refused with {@code invalid-export};
 * never another exception, and an accepted manifest never names a file outside the import's work directory.
 */
class ExportManifestProperties {
    private static final Path WORK = Path.of("/srv/storage/vms/.import-1");

    private static byte[] valid() {
        return CraftedExport.bytes(CraftedExport.manifestFor("0f0e0d0c-0b0a-4909-8807-060504030201", "ehr-01",
                List.of(new CraftedExport.Disk("disk0", "qcow2", 1 << 20, new byte[] {1, 2, 3}),
                        new CraftedExport.Disk("disk1", "raw", 1 << 20, new byte[] {4}))));
    }

    /** A byte-level mutation: replace, insert or delete a few bytes of a valid manifest. */
    @Provide
    Arbitrary<byte[]> mutatedBytes() {
        byte[] base = valid();
        Arbitrary<int[]> edit = Combinators.combine(Arbitraries.integers().between(0, 2),
                Arbitraries.integers().between(0, base.length - 1), Arbitraries.integers().between(0, 255))
                .as((kind, at, value) -> new int[] {kind, at, value});
        return edit.list().ofMinSize(1).ofMaxSize(6).map(edits -> {
            byte[] b = base.clone();
            for (int[] e : edits) {
                int at = Math.min(e[1], b.length - 1);
                if (e[0] == 0) {
                    b[at] = (byte) e[2];
                } else if (e[0] == 1) {
                    byte[] n = new byte[b.length + 1];
                    System.arraycopy(b, 0, n, 0, at);
                    n[at] = (byte) e[2];
                    System.arraycopy(b, at, n, at + 1, b.length - at);
                    b = n;
                } else if (b.length > 1) {
                    byte[] n = new byte[b.length - 1];
                    System.arraycopy(b, 0, n, 0, at);
                    System.arraycopy(b, at + 1, n, at, b.length - at - 1);
                    b = n;
                }
            }
            return b;
        });
    }

    /** A field-level mutation: one disk field set to a hostile value of any JSON type. */
    @Provide
    Arbitrary<byte[]> mutatedFields() {
        Arbitrary<String> field = Arbitraries.of("id", "file", "format", "virtualSizeBytes", "bytes", "sha256");
        Arbitrary<Object> value = Arbitraries.oneOf(
                Arbitraries.of("../../../../tmp/x", "/etc/passwd", "disks/../x.qcow2", "disk0", "qcow2", "raw",
                        "disks/disk0.qcow2", "disks/disk1.raw", "", "\0", "vmdk", "disk0/..").map(o -> (Object) o),
                Arbitraries.strings().ofMaxLength(80).map(o -> (Object) o),
                Arbitraries.longs().map(o -> (Object) o),
                Arbitraries.doubles().map(o -> (Object) o),
                Arbitraries.of(true, false).map(o -> (Object) o));
        return Combinators.combine(Arbitraries.integers().between(0, 1), field, value).as((disk, f, v) -> {
            ObjectNode m = CraftedExport.manifestFor("0f0e0d0c-0b0a-4909-8807-060504030201", "ehr-01",
                    List.of(new CraftedExport.Disk("disk0", "qcow2", 1 << 20, new byte[] {1, 2, 3}),
                            new CraftedExport.Disk("disk1", "raw", 1 << 20, new byte[] {4})));
            ObjectNode d = (ObjectNode) m.withArray("disks").get(disk);
            if (v instanceof String s) {
                d.put(f, s);
            } else if (v instanceof Long l) {
                d.put(f, l);
            } else if (v instanceof Double x) {
                d.put(f, x);
            } else {
                d.put(f, (Boolean) v);
            }
            return CraftedExport.bytes(m);
        });
    }

    @Property(tries = 3000)
    void byteMutationsAreAcceptedOrRefusedCleanly(@ForAll("mutatedBytes") byte[] json) {
        check(json);
    }

    @Property(tries = 3000)
    void fieldMutationsAreAcceptedOrRefusedCleanly(@ForAll("mutatedFields") byte[] json) {
        check(json);
    }

    @Property(tries = 1000)
    void arbitraryTextIsRefusedCleanly(@ForAll String text) {
        check(text.getBytes(StandardCharsets.UTF_8));
    }

    private static void check(byte[] json) {
        ExportManifest m;
        try {
            m = ExportManifest.parse(json);
        } catch (AgentException e) {
            assertThat(e.code()).isEqualTo("invalid-export");
            assertThat(e.status()).isEqualTo(422);
            return;
        }
        for (ExportManifest.Disk d : m.disks()) {
            assertThat(d.file()).isEqualTo("disks/" + d.id() + "." + d.format());
            assertThat(WORK.resolve(d.id() + "." + d.format()).normalize().getParent()).isEqualTo(WORK);
            assertThat(d.format()).isIn("qcow2", "raw");
            assertThat(d.virtualSizeBytes()).isPositive();
            assertThat(d.bytes()).isNotNegative();
        }
    }
}
