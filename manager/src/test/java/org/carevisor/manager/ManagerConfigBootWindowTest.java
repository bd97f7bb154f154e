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

    /** The option's value as the config holds it. */
    private static Duration value(ManagerConfig c, String option) {
        return switch (option) {
            case "--ha-boot-window-seconds" -> c.haBootWindow();
            case "--migration-boot-settle-seconds" -> c.migrationBootSettle();
            default -> throw new IllegalArgumentException(option);
        };
    }

    @ParameterizedTest
    @CsvSource({"--ha-boot-window-seconds, '', 600", "--ha-boot-window-seconds, 0, 0",
            "--ha-boot-window-seconds, 90, 90", "--ha-boot-window-seconds, 86400, 86400",
            "--migration-boot-settle-seconds, '', 30", "--migration-boot-settle-seconds, 0, 0",
            "--migration-boot-settle-seconds, 10, 10", "--migration-boot-settle-seconds, 600, 600"})
    void accepted(String option, String given, long seconds) {
        ManagerConfig c = given.isEmpty() ? parse() : parse(option, given);
        assertThat(value(c, option)).isEqualTo(Duration.ofSeconds(seconds));
    }

    @ParameterizedTest
    @CsvSource({"--ha-boot-window-seconds, -1", "--ha-boot-window-seconds, 86401", "--ha-boot-window-seconds, ten",
            "--ha-boot-window-seconds, 1.5", "--migration-boot-settle-seconds, -1",
            "--migration-boot-settle-seconds, 601", "--migration-boot-settle-seconds, soon"})
    void refused(String option, String given) {
        assertThatThrownBy(() -> parse(option, given))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(option)
                .hasMessageContaining(given);
    }

    @org.junit.jupiter.api.Test
    void theEnvironmentSetsItToo() {
        ManagerConfig c = ManagerConfig.parse(new String[] {"--data-dir", "target/config-test/manager"},
                Map.of("CAREVISOR_MANAGER_HA_BOOT_WINDOW_SECONDS", "120"));
        assertThat(c.haBootWindow()).isEqualTo(Duration.ofSeconds(120));
    }
}
