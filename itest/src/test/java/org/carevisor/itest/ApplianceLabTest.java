package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.QemuProcesses;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Base of the test classes that share one lab (manager and agent processes) with the guest appliance in
 * its image library. The lab is stopped after the class, and no QEMU process may be left behind.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ApplianceLabTest {
    /** Generous limit for a guest to boot under TCG on a busy machine. */
    static final Duration BOOT = Duration.ofSeconds(90);

    Path dir;
    Lab lab;

    /** First host port of this class's guest port range (each class uses its own 200 ports). */
    abstract int guestPortFrom();

    @BeforeAll
    void startLab(@TempDir Path tempDir) throws Exception {
        dir = tempDir;
        lab = Lab.start(dir.resolve("lab"), guestPortFrom(), Lab.applianceImage());
    }

    @AfterAll
    void stopLab() {
        if (lab != null) {
            lab.close();
        }
        assertThat(QemuProcesses.find(dir.toString())).as("QEMU processes left behind").isEmpty();
    }
}
