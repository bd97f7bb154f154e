package org.carevisor.manager.template;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** draft -> qualified -> retired, and draft -> retired; nothing goes back. */
class TemplateStateTest {
    @ParameterizedTest(name = "{0} -> {1}: {2}")
    @CsvSource({
        "DRAFT, QUALIFIED, true", "DRAFT, RETIRED, true", "DRAFT, DRAFT, false",
        "QUALIFIED, RETIRED, true", "QUALIFIED, DRAFT, false", "QUALIFIED, QUALIFIED, false",
        "RETIRED, DRAFT, false", "RETIRED, QUALIFIED, false", "RETIRED, RETIRED, false"})
    void transitions(TemplateState from, TemplateState to, boolean allowed) {
        assertThat(from.canBecome(to)).isEqualTo(allowed);
    }
}
