package org.carevisor.manager.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The start order as a table. Candidates are written {@code name@host:priority[>dependency,...]}, running VMs
 * {@code name@host+seconds} (running for that long; {@code +0} just started); the expected result lists the VMs
 * started now, in order. Settle time 10 s, 2 VMs booting per host.
 */
class StartOrderTest {
    static final Instant NOW = Instant.parse("2026-03-01T08:00:00Z");

    static Stream<Arguments> table() {
        return Stream.of(
                Arguments.of("higher priority first, two per host", "lis@h1:50 ehr@h1:100 pacs@h1:70 web@h1:-1", "",
                        "ehr pacs"),
                Arguments.of("each host has its own limit", "a@h1:10 b@h1:10 c@h1:10 d@h2:10", "", "a b d"),
                Arguments.of("VMs still booting count against the limit", "a@h1:10 b@h1:10", "x@h1+3", "a"),
                Arguments.of("settled VMs do not", "a@h1:10 b@h1:10", "x@h1+30 y@h1+11", "a b"),
                Arguments.of("an application waits for its database", "app@h1:90>db db@h2:100", "", "db"),
                Arguments.of("... while the database boots", "app@h1:90>db", "db@h2+4", ""),
                Arguments.of("... and starts once it has run for 10 s", "app@h1:90>db", "db@h2+10", "app"),
                Arguments.of("a dependency not meant to run is not waited for", "app@h1:90>gone", "", "app"),
                Arguments.of("a waiting VM does not hold back others", "app@h1:90>db db@h2:100 lis@h1:50", "",
                        "db lis"),
                Arguments.of("same priority: by name", "c@h1:5 a@h1:5 b@h1:5", "", "a b"),
                Arguments.of("nothing to start", "", "a@h1+100", ""));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void startOrder(String name, String candidates, String running, String expected) {
        List<StartOrder.Candidate> cs = new ArrayList<>();
        for (String c : words(candidates)) {
            String[] vmAndDeps = c.split(">");
            String[] head = vmAndDeps[0].split("[@:]");
            List<String> deps = vmAndDeps.length > 1 ? Arrays.asList(vmAndDeps[1].split(",")) : List.of();
            cs.add(new StartOrder.Candidate(head[0], head[0], head[1], Integer.parseInt(head[2]), deps));
        }
        Map<String, StartOrder.Running> rs = new HashMap<>();
        for (String r : words(running)) {
            String[] p = r.split("[@+]");
            rs.put(p[0], new StartOrder.Running(p[1], NOW.minusSeconds(Long.parseLong(p[2]))));
        }
        List<String> started = StartOrder.decide(cs, rs, NOW, Duration.ofSeconds(10), 2).stream()
                .filter(StartOrder.Verdict::start).map(v -> v.vm().name()).toList();
        assertThat(String.join(" ", started)).as(name).isEqualTo(expected);
    }

    @org.junit.jupiter.api.Test
    void everyWaitSaysWhy() {
        List<StartOrder.Verdict> v = StartOrder.decide(List.of(
                new StartOrder.Candidate("1", "app", "h1", 90, List.of("2")),
                new StartOrder.Candidate("2", "db", "h1", 100, List.of()),
                new StartOrder.Candidate("3", "lis", "h1", 50, List.of()),
                new StartOrder.Candidate("4", "ris", "h1", 40, List.of())), Map.of(), NOW, Duration.ofSeconds(10), 2);
        assertThat(v).extracting(x -> x.vm().name() + " " + x.start() + " " + x.why()).containsExactly(
                "db true priority 100", "app false waits for db to run for 10 s", "lis true priority 50",
                "ris false 2 VM(s) boot on its host already");
    }

    private static List<String> words(String s) {
        return s.isBlank() ? List.of() : List.of(s.strip().split("\\s+"));
    }
}
