package org.carevisor.manager.ups;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The UPS decision as a table: a sequence of readings, one per second ("OL", "OB", "OB LB", "FSD OB", or "x" for
 * a failed read), and the events it gives ("second:EVENT", SHUTDOWN being the one that starts a site shutdown).
 */
class UpsPolicyTest {
    private static final Instant T0 = Instant.parse("2026-12-03T08:00:00Z");

    static Stream<Arguments> cases() {
        UpsPolicy.Settings lowOnly = new UpsPolicy.Settings(null, 3);
        UpsPolicy.Settings after5 = new UpsPolicy.Settings(Duration.ofSeconds(5), 3);
        return Stream.of(
                Arguments.of("mains power: nothing happens", lowOnly, "OL OL OL", ""),
                Arguments.of("a short outage is recorded, nothing is shut down", lowOnly, "OL OB OB OL",
                        "1:ON_BATTERY 3:ONLINE"),
                Arguments.of("battery low on battery shuts down, once", lowOnly, "OL OB OB+LB OB+LB OB+LB",
                        "1:ON_BATTERY 2:BATTERY_LOW 2:SHUTDOWN"),
                Arguments.of("battery low while on mains (recharging) shuts nothing down", lowOnly, "OL+LB OL+LB OL",
                        "0:BATTERY_LOW"),
                Arguments.of("forced shutdown from the NUT primary", lowOnly, "OL FSD+OL", "1:SHUTDOWN"),
                Arguments.of("on battery for the configured time", after5, "OB OB OB OB OB OB OB",
                        "0:ON_BATTERY 5:SHUTDOWN"),
                Arguments.of("power back before the time: no shutdown, and the timer starts again", after5,
                        "OB OB OB OL OB OB OB OB", "0:ON_BATTERY 3:ONLINE 4:ON_BATTERY"),
                Arguments.of("unreachable on mains: an alarm, never a shutdown", lowOnly, "OL x x x x OL",
                        "3:UNREACHABLE 5:REACHABLE"),
                Arguments.of("unreachable while on battery: critical, as upsmon says", lowOnly, "OL OB x x x",
                        "1:ON_BATTERY 4:UNREACHABLE 4:SHUTDOWN"),
                Arguments.of("a second outage after the power came back shuts down again", lowOnly,
                        "OB+LB OL OB+LB", "0:ON_BATTERY 0:BATTERY_LOW 0:SHUTDOWN 1:ONLINE 2:ON_BATTERY"
                                + " 2:BATTERY_LOW 2:SHUTDOWN"),
                Arguments.of("unknown power at the first failed reads (never read): no shutdown", lowOnly, "x x x x",
                        "2:UNREACHABLE"),
                Arguments.of("an FSD test on mains does not use up the shutdown of a later outage", lowOnly,
                        "OL FSD+OL OL OB OB+LB", "1:SHUTDOWN 3:ON_BATTERY 4:BATTERY_LOW 4:SHUTDOWN"),
                Arguments.of("FSD held on mains asks once", lowOnly, "FSD+OL FSD+OL FSD+OL", "0:SHUTDOWN"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void decide(String name, UpsPolicy.Settings settings, String readings, String expected) {
        UpsPolicy.State s = UpsPolicy.State.initial();
        List<String> events = new ArrayList<>();
        String[] steps = readings.split(" ");
        for (int i = 0; i < steps.length; i++) {
            Instant now = T0.plusSeconds(i);
            UpsPolicy.Outcome o = steps[i].equals("x") ? UpsPolicy.failure(s, "connection refused", now, settings)
                    : UpsPolicy.reading(s, new NutClient.Reading(new LinkedHashSet<>(Arrays.asList(steps[i]
                    .split("\\+"))), 50, 600), now, settings);
            s = o.next();
            for (UpsPolicy.Event e : o.events()) {
                events.add(i + ":" + e.kind());
                assertThat(e.detail()).isNotBlank();
            }
        }
        assertThat(String.join(" ", events)).isEqualTo(expected);
    }

    @org.junit.jupiter.api.Test
    void theShutdownSaysWhy() {
        UpsPolicy.Settings lowOnly = new UpsPolicy.Settings(null, 3);
        UpsPolicy.Outcome o = UpsPolicy.reading(UpsPolicy.State.initial(), new NutClient.Reading(
                new LinkedHashSet<>(List.of("OB", "LB")), 9, 120), T0, lowOnly);
        assertThat(o.events()).last().extracting(UpsPolicy.Event::detail)
                .isEqualTo("on battery and battery low (charge 9 %, runtime 120 s)");
    }
}
