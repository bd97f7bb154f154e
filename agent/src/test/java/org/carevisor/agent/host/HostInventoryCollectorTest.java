package org.carevisor.agent.host;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The CPU models of {@code qemu-system-x86_64 -cpu help}. */
class HostInventoryCollectorTest {
    private static final String HELP = """
            Available CPUs:
            x86 486                   (alias configured by machine type)
            x86 Haswell-v4            Intel Core Processor (Haswell, no TSX, IBRS)
            x86 host                  KVM processor with all supported host features
            x86 qemu64                (alias configured by machine type)

            Recognized CPUID flags:
              3dnow 3dnowext
            """;

    @Test
    void listsModelsAndHostOnlyWithKvm() {
        assertThat(HostInventoryCollector.parseCpuModels(HELP, false)).containsExactly("486", "Haswell-v4", "qemu64");
        assertThat(HostInventoryCollector.parseCpuModels(HELP, true)).contains("host");
    }
}
