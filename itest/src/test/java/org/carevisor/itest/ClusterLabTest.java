package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.LabNetwork;
import org.carevisor.testkit.LimitedStorage;
import org.carevisor.testkit.QemuProcesses;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Base of the test classes that share a lab of three hosts: each agent in its own network namespace with
 * its own state directory, all sharing one storage directory, guests on the bridged network {@code lab} with
 * fixed addresses. Needs root (network namespaces), as ./carevisor test runs on CI.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ClusterLabTest {
    static final Duration BOOT = Duration.ofSeconds(90);

    Path dir;
    Lab lab;
    /** The lab's size-limited storage, when {@link #storageMiB} asks for one. */
    LimitedStorage storage;

    abstract int guestPortFrom();

    int hosts() {
        return 3;
    }

    /** A size-limited storage of this many MiB for the lab (a test can fill it); 0: the lab's plain directory. */
    int storageMiB() {
        return 0;
    }

    /** More manager options for the lab (called once, before the lab starts). */
    java.util.List<String> managerOptions() throws Exception {
        return java.util.List.of();
    }

    @BeforeAll
    void startLab(@TempDir Path tempDir) throws Exception {
        Assumptions.assumeTrue(LabNetwork.available(), "the multi-host lab needs root (network namespaces);"
                + " ./carevisor test runs as root on CI");
        dir = tempDir;
        if (storageMiB() > 0) {
            storage = LimitedStorage.mount(dir.resolve("lab/storage"), storageMiB());
        }
        lab = Lab.cluster(dir.resolve("lab"), guestPortFrom(), hosts(), managerOptions(), Lab.applianceImage());
    }

    @AfterAll
    void stopLab() throws Exception {
        if (lab != null) {
            lab.close();
        }
        if (storage != null) {
            storage.close();
        }
        if (dir != null) {
            assertThat(QemuProcesses.find(dir.toString())).as("QEMU processes left behind").isEmpty();
        }
    }

    /** Creates a running appliance VM on the lab network, on the given host (null: the scheduler chooses). */
    com.fasterxml.jackson.databind.JsonNode bridgedVm(String name, int memoryMiB, String host) {
        return lab.createVm("{\"name\":\"" + name + "\",\"cpus\":1,\"memoryMiB\":" + memoryMiB
                + ",\"image\":\"carevisor-appliance\",\"nics\":[{\"network\":\"lab\"}],\"start\":true"
                + (host == null ? "" : ",\"host\":\"" + host + "\"") + "}");
    }
}
