package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.Test;

/**
 * Faults with real guests: QEMU killed with SIGKILL, the agent killed and restarted while VMs run, the
 * manager restarted. Manager and agent are separate processes, as in a deployment.
 */
class FaultIT extends ApplianceLabTest {
    @Override
    int guestPortFrom() {
        return 21400;
    }




    @Test
    void killedQemuIsShownCrashedWithinFiveSeconds() throws Exception {
        JsonNode vm = lab.createVm("{\"name\":\"crash-1\",\"cpus\":1,\"memoryMiB\":128,"
                + "\"image\":\"carevisor-appliance\",\"start\":true}");
        String id = vm.path("id").asText();
        lab.guest("crash-1").awaitReady(BOOT);

        ProcessHandle.of(lab.qemuPid(id)).orElseThrow().destroyForcibly();
        Instant killed = Instant.now();
        JsonNode crashed = lab.awaitState("crash-1", "crashed", Duration.ofSeconds(5));
        assertThat(Duration.between(killed, Instant.now())).isLessThan(Duration.ofSeconds(5));
        assertThat(crashed.path("stateReason").asText()).contains("signal 9 (SIGKILL)");
        assertThat(crashed.path("exitCode").asInt()).isEqualTo(137);
        assertThat(crashed.path("powerState").asText()).as("desired state is kept").isEqualTo("running");
        JsonNode audit = lab.api().get("/api/v1/vms/crash-1/history").json();
        assertThat(audit.findValuesAsText("action")).contains("vm.crashed");

        // Not restarted by itself (no HA policy yet), but an operator can start it again.
        Poll.sleep(2500);
        assertThat(lab.vm("crash-1").path("state").asText()).isEqualTo("crashed");
        lab.act("crash-1", "start");
        lab.guest("crash-1").awaitReady(BOOT);
        lab.act("crash-1", "poweroff");
    }

    @Test
    void agentRestartReadoptsRunningVmsAndManagerRestartKeepsState() throws Exception {
        JsonNode vm = lab.createVm("{\"name\":\"adopt-1\",\"cpus\":1,\"memoryMiB\":128,"
                + "\"image\":\"carevisor-appliance\",\"start\":true}");
        String id = vm.path("id").asText();
        GuestProbe guest = lab.guest("adopt-1");
        GuestProbe.Status before = guest.awaitReady(BOOT);
        long pid = lab.qemuPid(id);

        // Kill the agent with SIGKILL: QEMU keeps running and the guest keeps answering.
        lab.agent().kill();
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).contains(true);
        GuestProbe.Status during = guest.status();
        assertThat(during.bootId()).isEqualTo(before.bootId());
        lab.awaitState("adopt-1", "unknown", Duration.ofSeconds(15));

        // A new agent re-adopts the same QEMU process: running, same pid, same boot, counter went on.
        lab.startAgent();
        JsonNode back = lab.awaitState("adopt-1", "running", Duration.ofSeconds(30));
        assertThat(back.path("pid").asLong()).isEqualTo(pid);
        assertThat(back.path("stateReason").asText()).contains("re-adopted");
        GuestProbe.Status after = guest.status();
        assertThat(after.bootId()).isEqualTo(before.bootId());
        assertThat(after.counter()).isGreaterThan(during.counter());

        // The re-adopted VM is fully manageable: pause and resume through the new agent.
        lab.act("adopt-1", "pause");
        lab.act("adopt-1", "resume");

        // Restart the manager: definitions, desired and observed state, tasks and history are kept.
        long tasksBefore = lab.api().get("/api/v1/tasks?limit=1000").json().size();
        lab.manager().close();
        assertThat(guest.status().bootId()).as("the guest does not notice the manager").isEqualTo(before.bootId());
        lab.startManager();
        lab.awaitHostConnected();
        JsonNode kept = lab.awaitState("adopt-1", "running", Duration.ofSeconds(15));
        assertThat(kept.path("id").asText()).isEqualTo(id);
        assertThat(kept.path("powerState").asText()).isEqualTo("running");
        assertThat(kept.path("pid").asLong()).isEqualTo(pid);
        assertThat(lab.api().get("/api/v1/tasks?limit=1000").json().size()).isEqualTo(tasksBefore);
        assertThat(lab.api().get("/api/v1/vms/adopt-1/history").json().findValuesAsText("action"))
                .contains("vm.create", "vm.pause");
        assertThat(guest.status().bootId()).isEqualTo(before.bootId());

        // The new manager can still operate the VM.
        lab.act("adopt-1", "poweroff");
        assertThat(lab.vm("adopt-1").path("state").asText()).isEqualTo("stopped");
    }
}
