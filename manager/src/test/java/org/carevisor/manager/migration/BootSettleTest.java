package org.carevisor.manager.migration;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** How long a live migration waits after the VM's start (a guest moved while it boots can crash). */
class BootSettleTest {
    static final Instant NOW = Instant.parse("2026-12-04T12:00:00Z");

    static Stream<Arguments> table() {
        return Stream.of(
                Arguments.of("started 5 s ago, settle 30 s: waits 25 s", NOW.minusSeconds(5), 30, 25_000),
                Arguments.of("started just now: the whole settle time", NOW, 30, 30_000),
                Arguments.of("ran exactly the settle time: no wait", NOW.minusSeconds(30), 30, 0),
                Arguments.of("ran longer: no wait", NOW.minusSeconds(3600), 30, 0),
                Arguments.of("settle 0 (turned off): no wait", NOW, 0, 0),
                Arguments.of("start time unknown (never observed): no wait", null, 30, 0),
                Arguments.of("start in the future (the agent's clock ahead): the whole settle time",
                        NOW.plusSeconds(7), 30, 30_000));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void waits(String what, Instant startedAt, int settleSeconds, long waitMillis) {
        assertThat(MigrationService.bootSettleWait(startedAt, NOW, Duration.ofSeconds(settleSeconds)).toMillis())
                .isEqualTo(waitMillis);
    }
}
