package org.carevisor.manager.site;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.carevisor.manager.site.ShutdownOrder.Vm;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The order of a site shutdown, as a table: running VMs, and the waves as "a b | c" (names by wave). */
class ShutdownOrderTest {
    private static Vm vm(String name, int priority, String... dependsOn) {
        return new Vm(name, name, "h1", priority, Arrays.asList(dependsOn));
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("nothing runs", List.of(), ""),
                Arguments.of("no HA first, then by rising priority", List.of(vm("ehr", 100), vm("test", -1),
                        vm("lab", 50), vm("print", -1)), "print test | lab | ehr"),
                Arguments.of("same priority stops together", List.of(vm("a", 10), vm("b", 10)), "a b"),
                Arguments.of("the application before its database (same priority)", List.of(vm("db", 100),
                        vm("app", 100, "db")), "app | db"),
                Arguments.of("a chain", List.of(vm("web", 10, "app"), vm("app", 10, "db"), vm("db", 10)),
                        "web | app | db"),
                Arguments.of("a dependency outranks priority: a high-priority app holds back its low-priority"
                        + " database", List.of(vm("app", 100, "db"), vm("db", 0), vm("misc", 0)),
                        "misc | app | db"),
                Arguments.of("a dependency that does not run is ignored", List.of(vm("app", 10, "gone")), "app"),
                Arguments.of("a cycle stops together", List.of(vm("x", 5, "y"), vm("y", 5, "x"), vm("z", -1)),
                        "z | x y"),
                Arguments.of("two apps on one database", List.of(vm("pacs", 80, "db"), vm("ris", 60, "db"),
                        vm("db", 90)), "ris | pacs | db"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void plan(String name, List<Vm> running, String expected) {
        List<ShutdownOrder.Wave> waves = ShutdownOrder.plan(running);
        String actual = String.join(" | ", waves.stream().map(w -> String.join(" ", w.vms().stream().map(Vm::name)
                .toList())).toList());
        assertThat(actual).isEqualTo(expected);
        assertThat(waves).allSatisfy(w -> assertThat(w.why()).isNotBlank());
        for (int i = 0; i < waves.size(); i++) {
            assertThat(waves.get(i).number()).isEqualTo(i + 1);
        }
    }

    @org.junit.jupiter.api.Test
    void wavesSayWhy() {
        List<ShutdownOrder.Wave> w = ShutdownOrder.plan(List.of(vm("db", 100), vm("app", 100, "db"), vm("t", -1)));
        assertThat(w.get(0).why()).isEqualTo("no HA (priority -1)");
        assertThat(w.get(1).why()).isEqualTo("priority 100; before db (depended on)");
        assertThat(w.get(2).why()).isEqualTo("priority 100");
    }
}
