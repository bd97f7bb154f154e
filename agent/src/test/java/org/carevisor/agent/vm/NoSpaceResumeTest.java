package org.carevisor.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** When a VM paused for a full storage is resumed: only while so paused, at most every RETRY, with room on disk. */
class NoSpaceResumeTest {
    @TempDir
    Path dir;

    @Test
    void triesOnlyWhilePausedForNoSpaceAndNotMoreOftenThanRetry() {
        NoSpaceResume r = new NoSpaceResume();
        Instant t = Instant.parse("2026-12-03T10:00:00Z");
        assertThat(r.due(t)).as("not paused").isFalse();
        r.paused(t, "disk0");
        assertThat(r.why()).contains("no space left").contains("disk0").contains("256 MiB");
        assertThat(r.due(t)).isTrue();
        assertThat(r.due(t.plusSeconds(4))).isFalse();
        assertThat(r.due(t.plus(NoSpaceResume.RETRY))).isTrue();
        r.paused(t.plusSeconds(6), "disk1");
        assertThat(r.why()).as("paused since the first error").contains(t.toString()).contains("disk1");
        r.clear();
        assertThat(r.isPaused()).isFalse();
        assertThat(r.due(t.plusSeconds(60))).isFalse();
    }

    @Test
    void roomNeedsTheMinimumOnEveryDisksFileSystemAndAReadableOne() {
        assertThat(NoSpaceResume.roomOn(List.of(dir))).as("the build machine's temp has room").isTrue();
        assertThat(NoSpaceResume.roomOn(List.of(dir, dir.resolve("gone/x")))).isFalse();
    }
}
