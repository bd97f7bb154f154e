package org.carevisor.manager;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code --ha-boot-window-seconds} and {@code --migration-boot-settle-seconds}: their defaults, their bounds, and a
 * refusal that names the option.
 */
class ManagerConfigBootWindowTest {
    private static ManagerConfig parse(String... extra) {
        String[] base = {"--data-dir", "target/config-test/manager"};
        String[] all = new String[base.length + extra.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return ManagerConfig.parse(all, Map.of());
    }

    @ParameterizedTest
    @CsvSource({"'', 600", "0, 0", "90, 90", "86400, 86400"})
    void accepted(String given, long seconds) {
        ManagerConfig c = given.isEmpty() ? parse() : parse("--ha-boot-window-seconds", given);
        assertThat(c.haBootWindow()).isEqualTo(Duration.ofSeconds(seconds));
    }

    @ParameterizedTest
    @CsvSource({"-1", "86401", "ten", "1.5"})
    void refused(String given) {
        assertThatThrownBy(() -> parse("--ha-boot-window-seconds", given))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--ha-boot-window-seconds")
                .hasMessageContaining(given);
    }

    @org.junit.jupiter.api.Test
    void theEnvironmentSetsItToo() {
        ManagerConfig c = ManagerConfig.parse(new String[] {"--data-dir", "target/config-test/manager"},
                Map.of("CAREVISOR_MANAGER_HA_BOOT_WINDOW_SECONDS", "120"));
        assertThat(c.haBootWindow()).isEqualTo(Duration.ofSeconds(120));
    }

    @ParameterizedTest
    @CsvSource({"'', 30", "0, 0", "10, 10", "600, 600"})
    void migrationBootSettleAccepted(String given, long seconds) {
        ManagerConfig c = given.isEmpty() ? parse() : parse("--migration-boot-settle-seconds", given);
        assertThat(c.migrationBootSettle()).isEqualTo(Duration.ofSeconds(seconds));
    }

    @ParameterizedTest
    @CsvSource({"-1", "601", "soon"})
    void migrationBootSettleRefused(String given) {
        assertThatThrownBy(() -> parse("--migration-boot-settle-seconds", given))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--migration-boot-settle-seconds")
                .hasMessageContaining(given);
    }
}
