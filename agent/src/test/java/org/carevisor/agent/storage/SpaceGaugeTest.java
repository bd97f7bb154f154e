package org.carevisor.agent.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.carevisor.testkit.LimitedStorage;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SpaceGaugeTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "waited {0} ms: warned {1}")
    @CsvSource({"0, false", "4999, false", "5000, true", "61000, true"})
    void warnsOnceTheStorageHasNotAnsweredForFiveSeconds(long waitedMillis, boolean warned) {
        Optional<String> w = SpaceGauge.warning(Path.of("/srv/storage"), Duration.ofMillis(waitedMillis));
        assertThat(w).isEqualTo(warned ? Optional.of("the storage /srv/storage has not answered for "
                + waitedMillis / 1000 + " s (an unreachable SAN or NFS server?): disk I/O and lease renewals wait"
                + " until it answers") : Optional.empty());
    }

    /**
     * A real storage that stops answering (a FUSE layer whose process is stopped): the gauge keeps its last reading,
     * answers at once and warns; once the storage answers again the warning goes.
     */
    @Test
    void aHangingStorageNeitherBlocksTheReadingNorGoesUnnoticed() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mounting a file system needs root");
        try (LimitedStorage storage = LimitedStorage.mountFreezable(dir.resolve("storage"), 64);
             SpaceGauge gauge = new SpaceGauge(dir.resolve("storage"), Duration.ofMillis(200))) {
            SpaceGauge.Reading before = Poll.until(Duration.ofSeconds(5), "a first reading",
                    () -> gauge.last().total() > 0 ? gauge.last() : null);
            assertThat(before.total()).isBetween(32L << 20, 64L << 20);
            storage.freeze();
            Poll.until(Duration.ofSeconds(10), "the warning", () -> gauge.warning().isPresent() ? true : null);
            assertThat(gauge.last().total()).as("the last reading, given at once").isEqualTo(before.total());
            assertThat(gauge.waiting()).isGreaterThanOrEqualTo(SpaceGauge.SLOW);
            storage.thaw();
            Poll.until(Duration.ofSeconds(10), "the warning to go", () -> gauge.warning().isEmpty() ? true : null);
            assertThat(gauge.last().atMillis()).isGreaterThan(before.atMillis());
        }
    }
}
