package org.carevisor.manager.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.List;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.image.ImageRecord;
import org.junit.jupiter.api.Test;

class VmValidatorTest {
    private static final VmValidator.Capacity HOST = new VmValidator.Capacity(2, 4096, 10L << 30);
    private static final ImageRecord IMAGE = new ImageRecord("img-1", "appliance", "images/appliance.qcow2", "qcow2",
            256L << 20, 30L << 20, true, Instant.now(), Instant.now());

    private static final org.carevisor.manager.network.NetworkRecord USER = new org.carevisor.manager.network
            .NetworkRecord("n-1", "user", "user", null, null, null, null, null, null, Instant.now());
    private static final org.carevisor.manager.network.NetworkRecord LAB = new org.carevisor.manager.network
            .NetworkRecord("n-2", "lab", "bridge", "cvlab0", "10.77.0.0/24", "10.77.0.1", "10.77.0.100",
            "10.77.0.199", null, Instant.now());

    private static VmValidator.Plan create(VmRequests.Create r) {
        return VmValidator.create(r, HOST, ref -> ref.equals("appliance") || ref.equals("img-1") ? IMAGE : null,
                ref -> switch (ref) {
                    case "user" -> USER;
                    case "lab" -> LAB;
                    default -> null;
                });
    }

    private static VmRequests.Create request(String name, Integer cpus, Integer memory) {
        return new VmRequests.Create(name, null, cpus, memory, "appliance", null, null, null, null, null, null, null);
    }

    private static ApiException.FieldError onlyError(VmRequests.Create r) {
        try {
            create(r);
        } catch (ApiException e) {
            assertThat(e.status()).isEqualTo(400);
            assertThat(e.errors()).hasSize(1);
            return e.errors().get(0);
        }
        throw new AssertionError("expected a validation error");
    }

    @Test
    void acceptsAValidRequestWithDefaultNic() {
        VmValidator.Plan p = create(request("lab-01", 2, 256));
        assertThat(p.disks()).hasSize(1);
        assertThat(p.disks().get(0).sizeBytes()).isEqualTo(256L << 20);
        assertThat(p.nics()).singleElement().satisfies(n -> assertThat(n.forwards()).singleElement()
                .satisfies(f -> assertThat(f.guestPort()).isEqualTo(80)));
    }

    @Test
    void memoryZeroNegativeOrBeyondHost() {
        assertThat(onlyError(request("a", 1, 0)).field()).isEqualTo("memoryMiB");
        assertThat(onlyError(request("a", 1, -5)).message()).contains("at least 16");
        assertThat(onlyError(request("a", 1, 4097)).message()).contains("host's 4096 MiB");
    }

    @Test
    void cpusBeyondHostOrZero() {
        ApiException.FieldError e = onlyError(request("a", 3, 256));
        assertThat(e.field()).isEqualTo("cpus");
        assertThat(e.message()).contains("host's 2 CPUs");
        assertThat(onlyError(request("a", 0, 256)).field()).isEqualTo("cpus");
    }

    @Test
    void badNames() {
        for (String bad : List.of("a/b", "..", "x..y", "tab\there", "nul\u0000", "", "-lead", "x".repeat(64), "new\nline")) {
            ApiException.FieldError e = onlyError(request(bad, 1, 256));
            assertThat(e.field()).as(bad).isEqualTo("name");
        }
        assertThat(onlyError(request("a/b", 1, 256)).message()).contains("'/'");
        assertThat(onlyError(request("x..y", 1, 256)).message()).contains("'..'");
        assertThat(onlyError(request("a\u0007", 1, 256)).message()).contains("control characters");
    }

    @Test
    void diskLargerThanFreeStorage() {
        VmRequests.Create r = new VmRequests.Create("a", null, 1, 256, "appliance", null,
                List.of(new VmRequests.Disk(null, 20_000L, null)), null, null, null, null, null);
        ApiException.FieldError e = onlyError(r);
        assertThat(e.field()).isEqualTo("disks[0].sizeMiB");
        assertThat(e.message()).contains("free");
    }

    @Test
    void unknownImageAndBadForwards() {
        ApiException.FieldError e = onlyError(new VmRequests.Create("a", null, 1, 256, "nope", null, null, null, null, null, null, null));
        assertThat(e.field()).isEqualTo("image");
        VmRequests.Create r = new VmRequests.Create("a", null, 1, 256, "appliance", null, null,
                List.of(new VmRequests.Nic("user", List.of(new VmRequests.Forward("sctp", 70000, 80)))), null, null, null,
                null);
        assertThatThrownBy(() -> create(r)).isInstanceOfSatisfying(ApiException.class, x ->
                assertThat(x.errors()).extracting(ApiException.FieldError::field).containsExactlyInAnyOrder(
                        "nics[0].forwards[0].protocol", "nics[0].forwards[0].guestPort",
                        "nics[0].forwards[0].hostPort"));
    }

    @Test
    void unknownNetworkForwardsOnABridgeAndBadStorage() {
        VmRequests.Create r = new VmRequests.Create("a", null, 1, 256, "appliance", null, null,
                List.of(new VmRequests.Nic("nope", null), new VmRequests.Nic("lab",
                        List.of(new VmRequests.Forward("tcp", 80, null)))), null, null, null, "tape");
        assertThatThrownBy(() -> create(r)).isInstanceOfSatisfying(ApiException.class, x ->
                assertThat(x.errors()).extracting(ApiException.FieldError::field).containsExactlyInAnyOrder(
                        "nics[0].network", "nics[1].forwards", "storage"));
        VmValidator.Plan ok = create(new VmRequests.Create("a", null, 1, 256, "appliance", null, null,
                List.of(new VmRequests.Nic("lab", null)), null, null, null, "local"));
        assertThat(ok.local()).isTrue();
        assertThat(ok.nics()).extracting(VmValidator.PlannedNic::network).containsExactly("lab");
    }

    @Test
    void reportsEveryProblemAtOnce() {
        assertThatThrownBy(() -> create(new VmRequests.Create("a/b", null, null, -1, null, null, null, null, null, null, null, null)))
                .isInstanceOfSatisfying(ApiException.class, x -> assertThat(x.errors())
                        .extracting(ApiException.FieldError::field).containsExactly("name", "cpus", "memoryMiB",
                                "image"));
    }

    @Test
    void aVmWithoutAnythingToBootFromIsRefused() {
        ApiException.FieldError e = onlyError(new VmRequests.Create("empty", null, 1, 256, null, null, null, null, null,
                null, null, null));
        assertThat(e.field()).isEqualTo("image");
        assertThat(e.message()).contains("needs a disk", "--image", "carevisor image list", "--disk");
    }
}
