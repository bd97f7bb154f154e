package org.carevisor.manager.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class NoSpaceAlarmsTest {
    static Stream<Arguments> table() {
        String p = NoSpaceAlarms.PREFIX;
        return Stream.of(
                Arguments.of("nothing paused, nothing raised", Map.of(), List.of(), Set.of(), Set.of()),
                Arguments.of("a VM paused: its alarm", Map.of("pacs", "no space"), List.of(), Set.of(p + "pacs"),
                        Set.of()),
                Arguments.of("still paused: raised again (same reason keeps its time)", Map.of("pacs", "no space"),
                        List.of(p + "pacs"), Set.of(p + "pacs"), Set.of()),
                Arguments.of("resumed: cleared", Map.of(), List.of(p + "pacs"), Set.of(), Set.of(p + "pacs")),
                Arguments.of("other alarms are never cleared here", Map.of(), List.of("audit-integrity",
                        "ups-on-battery:ups1", "job-reconcile"), Set.of(), Set.of()),
                Arguments.of("one resumed, one paused", Map.of("lab", "no space"), List.of(p + "pacs"),
                        Set.of(p + "lab"), Set.of(p + "pacs")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void decides(String what, Map<String, String> paused, List<String> active, Set<String> raise, Set<String> clear) {
        NoSpaceAlarms.Changes c = NoSpaceAlarms.decide(paused, active);
        assertThat(c.raise().keySet()).isEqualTo(raise);
        assertThat(c.clear()).isEqualTo(clear);
        c.raise().forEach((code, reason) -> assertThat(reason).contains(code.substring(NoSpaceAlarms.PREFIX.length()))
                .contains("free space on the storage"));
    }
}
