package org.carevisor.manager.ha;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Runs every scenario of {@code src/test/resources/ha-scenarios/*.scenario} through the simulation: the
 * invariant (no VM executes on two hosts at once) and the scenario's expectations must hold, and the log of
 * events and decisions must equal the golden file {@code *.golden} next to it. To accept a changed log after
 * reviewing it: {@code mvn test -pl manager -Dtest=HaScenarioTest -Dha.update-golden=true}.
 */
class HaScenarioTest {
    static final Path DIR = Path.of("src/test/resources/ha-scenarios");

    static Stream<String> scenarios() throws IOException {
        try (Stream<Path> s = Files.list(DIR)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".scenario")).sorted().toList()
                    .stream();
        }
    }

    @Test
    void thereAreAtLeastTwentyScenarios() throws IOException {
        assertThat(scenarios().count()).isGreaterThanOrEqualTo(20);
    }

    @ParameterizedTest
    @MethodSource("scenarios")
    void scenario(String name) throws IOException {
        Path file = DIR.resolve(name);
        HaSimulation sim = HaSimulation.parse(Files.readAllLines(file));
        List<String> log = sim.run();
        String text = String.join("\n", log) + "\n";
        Path golden = DIR.resolve(name.replace(".scenario", ".golden"));
        if (Boolean.getBoolean("ha.update-golden")) {
            Files.writeString(golden, text);
        }
        assertThat(golden).as("golden log of " + name + " (review the log below, then create it with"
                + " -Dha.update-golden=true)\n" + text).exists();
        assertThat(sim.failures).as(text).isEmpty();
        assertThat(text).isEqualTo(Files.readString(golden));
    }
}
