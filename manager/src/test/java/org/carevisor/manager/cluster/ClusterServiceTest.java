package org.carevisor.manager.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.List;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.protocol.HostInventory;
import org.junit.jupiter.api.Test;

/** Every cluster setting is checked, all errors are reported at once, and the CPU baseline fits the hosts. */
class ClusterServiceTest {
    private static final ClusterRecord BASE = new ClusterRecord("id", "prod", null, "qemu64", "standard", null, 4, 1,
            new ClusterRecord.Migration(1024, 300, true, 2, 600), new ClusterRecord.Balancer("off", 20, 60, 30),
            Instant.now(), Instant.now());

    @Test
    void reportsEveryInvalidFieldAtOnce() {
        ClusterRequests.Write w = new ClusterRequests.Write("a/b", null, "bad model!", "vital", 100.0, 0.1,
                new ClusterRequests.Migration(0, 5, null, 9, 10), new ClusterRequests.Balancer("sometimes", 1, 1, -1));
        assertThatThrownBy(() -> ClusterService.apply(BASE, w, List.of())).isInstanceOfSatisfying(ApiException.class,
                e -> assertThat(e.errors()).extracting(ApiException.FieldError::field).containsExactlyInAnyOrder(
                        "name", "cpuModel", "criticality", "cpuOvercommit", "memoryOvercommit",
                        "migration.bandwidthMiBps", "migration.downtimeLimitMs", "migration.maxParallel",
                        "migration.timeoutSeconds", "balancer.mode", "balancer.thresholdPercent",
                        "balancer.intervalSeconds", "balancer.cooldownMinutes"));
    }

    @Test
    void aCpuBaselineMustBeOfferedByEveryHost() {
        HostInventory inv = new HostInventory("h", "host-1", "https://x", 2, "cpu", 1, 1, "/s", 1, 1, "7.2", "tcg",
                List.of(), false, "dev", 1, "d", 0, List.of("qemu64", "kvm64"), List.of(), null, 0, 0);
        HostRecord h = new HostRecord("h", "host-1", "https://x", inv, Instant.now(), Instant.now(), "id", List.of(),
                false, null, null, 512, null);
        ClusterRequests.Write w = new ClusterRequests.Write(null, null, "Haswell", null, null, null, null, null);
        assertThatThrownBy(() -> ClusterService.apply(BASE, w, List.of(h))).hasMessageContaining("host-1 cannot run");
        ClusterRecord ok = ClusterService.apply(BASE, new ClusterRequests.Write(null, "new text", "kvm64", "critical",
                2.0, 1.2, new ClusterRequests.Migration(256, null, false, null, null),
                new ClusterRequests.Balancer("automatic", null, null, null)), List.of(h));
        assertThat(ok.cpuModel()).isEqualTo("kvm64");
        assertThat(ok.migration().bandwidthMiBps()).isEqualTo(256);
        assertThat(ok.migration().downtimeLimitMs()).isEqualTo(300);
        assertThat(ok.migration().autoConverge()).isFalse();
        assertThat(ok.balancer().mode()).isEqualTo("automatic");
        assertThat(ok.balancer().thresholdPercent()).isEqualTo(20);
    }
}
