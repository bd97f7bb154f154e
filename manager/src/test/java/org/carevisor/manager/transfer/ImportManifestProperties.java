package org.carevisor.manager.transfer;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.network.NetworkRecord;
import org.carevisor.manager.vm.VmNames;
import org.carevisor.manager.vm.VmValidator;
import org.carevisor.testkit.CraftedExport;
import org.junit.jupiter.api.Test;

/**
 * The manager's rules for what an import may read and take from a manifest: any file name either names a file
 * directly in exports/ or is refused naming {@code file}; any mutation of a valid manifest is either a VM a
 * create would accept or refused naming the manifest field (422 invalid-export), never another exception.
 */
class ImportManifestProperties {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final VmValidator.Capacity CAPACITY = new VmValidator.Capacity(4, 8192, 100L << 30);
    private static final String ID = "0f0e0d0c-0b0a-4909-8807-060504030201";

    private static NetworkRecord network(String name) {
        return name.equals("user") ? new NetworkRecord("n-user", "user", "user", null, null, null, null, null, null,
                java.time.Instant.EPOCH) : null;
    }

    private static ObjectNode valid() {
        return CraftedExport.manifestFor(ID, "ehr-01", List.of(new CraftedExport.Disk("disk0", "qcow2", 1 << 20,
                new byte[] {1})));
    }

    @Provide
    Arbitrary<String> fileNames() {
        Arbitrary<String> part = Arbitraries.of("exports/", "archive/", "vms/", "../", "..", "/", ".", ".cva", "x",
                "ehr-01-20261122-101500", "\0", "\n", "%2e", "0f0e0d0c-0b0a-4909-8807-060504030201", "disk0.qcow2");
        return Arbitraries.oneOf(part.list().ofMaxSize(6).map(l -> String.join("", l)),
                Arbitraries.strings().ofMaxLength(250));
    }

    @Property(tries = 3000)
    void importFilesAreDirectlyInExports(@ForAll("fileNames") String file) {
        String path;
        try {
            path = ExportFileName.of(file);
        } catch (ApiException e) {
            assertThat(e.status()).isEqualTo(400);
            assertThat(e.errors()).extracting(ApiException.FieldError::field).containsExactly("file");
            return;
        }
        Path storage = Path.of("/srv/storage");
        assertThat(storage.resolve(path).normalize().getParent()).isEqualTo(storage.resolve("exports"));
        assertThat(path).endsWith(".cva").doesNotContain("..", "\0");
        assertThat(Path.of(path).getFileName().toString()).doesNotStartWith(".");
    }

    @Provide
    Arbitrary<String> mutated() {
        Arbitrary<String> path = Arbitraries.of("vm.id", "vm.name", "vm.description", "vm.cpus", "vm.memoryMiB",
                "vm.nics", "vm.nics.0.mac", "vm.nics.0.network", "vm.nics.0.forwards", "vm.nics.0.forwards.0.guestPort",
                "vm.nics.0.forwards.0.protocol", "disks", "disks.0.id", "disks.0.format", "disks.0.file",
                "disks.0.virtualSizeBytes", "vm");
        Arbitrary<Object> value = Arbitraries.oneOf(
                Arbitraries.of("../../etc/passwd", "x", "", "user", "lab", "qcow2", "raw", "disks/disk0.qcow2",
                        "disk0", ID, "not-a-uuid", "52:54:00:aa:bb:01", "01:00:5e:00:00:01", "tcp", "icmp",
                        "a".repeat(2000), "\0").map(o -> (Object) o),
                Arbitraries.strings().ofMaxLength(70).map(o -> (Object) o),
                Arbitraries.integers().map(o -> (Object) o),
                Arbitraries.longs().map(o -> (Object) o),
                Arbitraries.of(true).map(o -> (Object) o));
        return Combinators.combine(path, value).as((p, v) -> {
            ObjectNode m = valid();
            String[] parts = p.split("\\.");
            com.fasterxml.jackson.databind.JsonNode node = m;
            for (int i = 0; i < parts.length - 1; i++) {
                node = parts[i].matches("\\d+") ? node.get(Integer.parseInt(parts[i])) : node.get(parts[i]);
            }
            String last = parts[parts.length - 1];
            com.fasterxml.jackson.databind.JsonNode value0 = JSON.valueToTree(v);
            if (node instanceof ObjectNode o) {
                o.set(last, value0);
            }
            return m.toString();
        });
    }

    @Property(tries = 3000)
    void mutatedManifestsAreAcceptedAsACreateWouldOrRefusedNamingTheField(@ForAll("mutated") String json,
                                                                          @ForAll boolean keep) {
        check(json, keep);
    }

    @Property(tries = 1000)
    void arbitraryTextIsRefusedCleanly(@ForAll String text) {
        check(text, true);
    }

    private static void check(String json, boolean keep) {
        ImportManifest m;
        try {
            m = ImportManifest.read(json, null, keep, CAPACITY, ImportManifestProperties::network);
        } catch (ApiException e) {
            assertThat(e.status()).isIn(400, 422);
            assertThat(e.errors()).isNotEmpty();
            assertThat(e.errors()).allSatisfy(f -> assertThat(f.field()).matches("manifest.*|name"));
            return;
        }
        assertThat(VmNames.problem(m.name())).isNull();
        assertThat(m.cpus()).isBetween(1, CAPACITY.maxCpus());
        assertThat(m.memoryMiB()).isBetween(VmValidator.MIN_MEMORY_MIB, (int) CAPACITY.maxMemoryMiB());
        assertThat(m.description() == null || m.description().length() <= 1000).isTrue();
        assertThat(m.disks()).allSatisfy(d -> assertThat(d.format()).isIn("qcow2", "raw"));
        if (keep) {
            assertThat(m.vmId()).matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
            assertThat(m.macs()).allSatisfy(mac -> assertThat(mac).matches("[0-9a-f]{2}(:[0-9a-f]{2}){5}"));
        }
    }

    @Test
    void theFieldAtFaultIsNamed() {
        ObjectNode m = valid();
        ((ObjectNode) m.get("vm")).put("cpus", 64);
        ((ObjectNode) m.withArray("disks").get(0)).put("id", "../../../../tmp/x");
        ApiException e = org.assertj.core.api.Assertions.catchThrowableOfType(ApiException.class,
                () -> ImportManifest.read(m.toString(), null, true, CAPACITY, ImportManifestProperties::network));
        assertThat(e.code()).isEqualTo("invalid-export");
        assertThat(e.errors()).extracting(ApiException.FieldError::field).contains("manifest.disks[0].id");
        ObjectNode notUuid = valid();
        ((ObjectNode) notUuid.get("vm")).put("id", "../x");
        ApiException id = org.assertj.core.api.Assertions.catchThrowableOfType(ApiException.class,
                () -> ImportManifest.read(notUuid.toString(), null, true, CAPACITY, ImportManifestProperties::network));
        assertThat(id.errors()).extracting(ApiException.FieldError::field).containsExactly("manifest.vm.id");
        // with a new identity the exported id does not matter
        assertThat(ImportManifest.read(notUuid.toString(), null, false, CAPACITY, ImportManifestProperties::network)
                .name()).isEqualTo("ehr-01");
        ObjectNode tooBig = valid();
        ((ObjectNode) tooBig.get("vm")).put("cpus", 64);
        ApiException cpus = org.assertj.core.api.Assertions.catchThrowableOfType(ApiException.class,
                () -> ImportManifest.read(tooBig.toString(), null, true, CAPACITY, ImportManifestProperties::network));
        assertThat(cpus.errors()).extracting(ApiException.FieldError::field).containsExactly("manifest.vm.cpus");
        ApiException name = org.assertj.core.api.Assertions.catchThrowableOfType(ApiException.class,
                () -> ImportManifest.read(valid().toString(), "../x", true, CAPACITY, ImportManifestProperties::network));
        assertThat(name.status()).isEqualTo(400);
        assertThat(name.errors()).extracting(ApiException.FieldError::field).containsExactly("name");
    }
}
