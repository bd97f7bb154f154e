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
 * The start order as a table. Candidates are written {@code name@host:priority[>dependency,...][~seconds]} (a
 * candidate for that many seconds already), running VMs {@code name@host+seconds} (running for that long; {@code +0}
 * just started), VMs meant to run whose host is not back {@code name?}; the expected result lists the VMs started
 * now, in order. Settle time 10 s, 2 VMs booting per host, dependencies away are waited for at most 600 s.
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
                Arguments.of("a dependency whose host is not back yet is waited for", "app@h1:90>db", "db?", ""),
                Arguments.of("... also by a VM that waited a while", "app@h1:90>db~599", "db?", ""),
                Arguments.of("... for at most 10 min", "app@h1:90>db~600", "db?", "app"),
                Arguments.of("... and only by the VMs that need it", "app@h1:90>db lis@h1:50", "db?", "lis"),
                Arguments.of("a waiting VM does not hold back others", "app@h1:90>db db@h2:100 lis@h1:50", "",
                        "db lis"),
                Arguments.of("same priority: by name", "c@h1:5 a@h1:5 b@h1:5", "", "a b"),
                Arguments.of("nothing to start", "", "a@h1+100", ""));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void startOrder(String name, String candidates, String running, String expected) {
        List<StartOrder.Candidate> cs = new ArrayList<>();
        for (String word : words(candidates)) {
            String[] waited = word.split("~");
            String c = waited[0];
            String[] vmAndDeps = c.split(">");
            String[] head = vmAndDeps[0].split("[@:]");
            List<String> deps = vmAndDeps.length > 1 ? Arrays.asList(vmAndDeps[1].split(",")) : List.of();
            cs.add(new StartOrder.Candidate(head[0], head[0], head[1], Integer.parseInt(head[2]), deps,
                    waited.length > 1 ? NOW.minusSeconds(Long.parseLong(waited[1])) : NOW));
        }
        Map<String, StartOrder.Running> rs = new HashMap<>();
        Map<String, String> away = new HashMap<>();
        for (String r : words(running)) {
            if (r.endsWith("?")) {
                away.put(r.substring(0, r.length() - 1), r.substring(0, r.length() - 1));
                continue;
            }
            String[] p = r.split("[@+]");
            rs.put(p[0], new StartOrder.Running(p[1], NOW.minusSeconds(Long.parseLong(p[2]))));
        }
        List<String> started = StartOrder.decide(cs, rs, away, NOW, Duration.ofSeconds(10), 2,
                Duration.ofMinutes(10)).stream()
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

    @org.junit.jupiter.api.Test
    void aWaitForAnAbsentDependencyNamesItAndTheBound() {
        List<StartOrder.Verdict> v = StartOrder.decide(List.of(
                new StartOrder.Candidate("1", "app", "h1", 90, List.of("2"), NOW),
                new StartOrder.Candidate("3", "web", "h1", 80, List.of("2"), NOW.minusSeconds(601))),
                Map.of(), Map.of("2", "db"), NOW, Duration.ofSeconds(10), 2, Duration.ofMinutes(10));
        assertThat(v).extracting(x -> x.vm().name() + " " + x.start() + " " + x.why()).containsExactly(
                "app false waits for db (meant to run, cannot start yet) for at most 10 min",
                "web true priority 80; starts without db after waiting 10 min");
    }

    private static List<String> words(String s) {
        return s.isBlank() ? List.of() : List.of(s.strip().split("\\s+"));
    }
}
