package org.carevisor.manager.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SnapshotNamesTest {
    @Test
    void readableNamesAreAccepted() {
        assertThat(SnapshotNames.problem("before upgrade 2.3 (Nov)")).isNull();
        assertThat(SnapshotNames.problem("x")).isNull();
    }

    @Test
    void badNamesAreRefusedWithTheReason() {
        assertThat(SnapshotNames.problem(null)).contains("required");
        assertThat(SnapshotNames.problem("   ")).contains("required");
        assertThat(SnapshotNames.problem("a/b")).contains("'/'");
        assertThat(SnapshotNames.problem("tab\there")).contains("control characters");
        assertThat(SnapshotNames.problem(" padded")).contains("spaces");
        assertThat(SnapshotNames.problem("x".repeat(65))).contains("at most 64");
    }
}
