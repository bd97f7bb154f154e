package org.carevisor.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Whatever relative path reaches it, storage path resolution answers a path inside the storage root that goes
 * through no symbolic link (so its real location is inside the root too), or refuses with {@code invalid-path}.
 * The storage here has a link that leads out of it, one that stays inside and a dangling one: all are refused.
 */
class StoragePathProperties {
    private static Path base;
    private static Path root;

    @BeforeContainer
    static void makeStorage() throws IOException {
        base = Files.createTempDirectory("storage-paths");
        root = base.resolve("storage");
        Files.createDirectories(root.resolve("vms/a"));
        Files.createDirectories(base.resolve("outside"));
        Files.createSymbolicLink(root.resolve("vms/out"), base.resolve("outside"));
        Files.createSymbolicLink(root.resolve("vms/in"), root.resolve("vms/a"));
        Files.createSymbolicLink(root.resolve("vms/dangling"), base.resolve("nowhere"));
        Files.writeString(root.resolve("vms/a/disk0.qcow2"), "x");
    }

    @AfterContainer
    static void removeStorage() throws IOException {
        try (var walk = Files.walk(base)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    @Provide
    Arbitrary<String> paths() {
        Arbitrary<String> part = Arbitraries.of("vms", "a", "out", "in", "dangling", "..", ".", "disk0.qcow2", "x",
                "", "/", "local", "\0", "images");
        return Arbitraries.oneOf(part.list().ofMaxSize(6).map(l -> String.join("/", l)),
                Arbitraries.strings().ofMaxLength(50));
    }

    @Property(tries = 3000)
    void resolvedPathsReallyStayInside(@ForAll("paths") String relative) throws IOException {
        Path resolved;
        try {
            resolved = QemuCommandLine.resolveInStorage(root, relative);
        } catch (QemuException e) {
            assertThat(e.code()).isEqualTo("invalid-path");
            return;
        }
        Path realRoot = root.toRealPath();
        assertThat(resolved.startsWith(root)).isTrue();
        assertThat(QemuCommandLine.realLocation(resolved).startsWith(realRoot)).isTrue();
        assertThat(QemuCommandLine.realLocation(resolved)).isNotEqualTo(realRoot);
        assertThat(resolved.startsWith(root.resolve("vms/out"))).isFalse();
        assertThat(resolved.startsWith(root.resolve("vms/dangling"))).isFalse();
        assertThat(resolved.startsWith(root.resolve("vms/in"))).isFalse();
        for (Path p = resolved; p != null && !p.equals(root); p = p.getParent()) {
            assertThat(Files.isSymbolicLink(p)).as("%s is a link", p).isFalse();
        }
    }
}
