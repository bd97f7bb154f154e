package org.carevisor.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ExitClassifierTest {
    static Stream<Arguments> table() {
        return Stream.of(
                // exit, requested, detail, guestShutdown, shutdownReason, agentAway -> state, cause, reason contains
                Arguments.of(137, null, null, null, null, false, VmState.CRASHED, StopCause.CRASH, "signal 9 (SIGKILL)"),
                Arguments.of(137, StopCause.REQUESTED, null, null, null, false, VmState.CRASHED, StopCause.CRASH,
                        "while stopping"),
                Arguments.of(139, null, null, null, null, false, VmState.CRASHED, StopCause.CRASH, "SIGSEGV"),
                Arguments.of(1, null, null, null, null, false, VmState.CRASHED, StopCause.CRASH, "exited with code 1"),
                Arguments.of(null, null, null, null, null, false, VmState.CRASHED, StopCause.CRASH, "vanished"),
                // gone without an exit status when the agent started: the host went down with it
                Arguments.of(null, null, null, null, null, true, VmState.CRASHED, StopCause.HOST_LOST,
                        "the host lost power"),
                Arguments.of(0, null, null, true, "guest-shutdown", false, VmState.STOPPED, StopCause.GUEST,
                        "guest powered off"),
                Arguments.of(0, StopCause.REQUESTED, null, true, "guest-shutdown", false, VmState.STOPPED,
                        StopCause.REQUESTED, "the guest shut down"),
                Arguments.of(0, StopCause.REQUESTED, "powered off", false, "host-qmp-quit", false, VmState.STOPPED,
                        StopCause.REQUESTED, "powered off"),
                Arguments.of(0, StopCause.HOST_SHUTDOWN, null, true, "guest-shutdown", false, VmState.STOPPED,
                        StopCause.HOST_SHUTDOWN, "host is shutting down"),
                Arguments.of(0, null, null, false, "host-signal", false, VmState.CRASHED, StopCause.CRASH,
                        "outside Carevisor"),
                Arguments.of(0, null, null, null, null, true, VmState.STOPPED, StopCause.GUEST,
                        "while the agent was not running"),
                // the guest's kernel panicked (pvpanic, -action panic=shutdown): a crash HA answers, not a power-off
                Arguments.of(0, null, null, true, "guest-panic", false, VmState.CRASHED, StopCause.CRASH,
                        "kernel panicked"),
                Arguments.of(0, StopCause.REQUESTED, null, true, "guest-panic", false, VmState.STOPPED,
                        StopCause.REQUESTED, "stopped on request"),
                // HA isolation response: however QEMU ended, the VM is released with the response's reason
                Arguments.of(0, StopCause.ISOLATION, "HA isolation response: the host reached neither the manager"
                        + " nor a peer for 7 s", false, "host-qmp-quit", false, VmState.STOPPED, StopCause.ISOLATION,
                        "reached neither the manager nor a peer for 7 s"),
                Arguments.of(137, StopCause.ISOLATION, "HA isolation response: x", null, null, false, VmState.STOPPED,
                        StopCause.ISOLATION, "HA isolation response"));
    }

    @Test
    void aQemuKilledByTheWatchdogIsSelfFencedNotCrashed() {
        String why = "killed by the HA watchdog: the host's storage lease was not renewed for 7 s";
        ExitClassifier.Verdict v = ExitClassifier.classify(new ExitClassifier.Facts(137, null, null, null, null,
                "", false, why));
        assertThat(v.cause()).isEqualTo(StopCause.SELF_FENCE);
        assertThat(v.state()).isEqualTo(VmState.CRASHED);
        assertThat(v.reason()).isEqualTo(why);
        ExitClassifier.Verdict during = ExitClassifier.classify(new ExitClassifier.Facts(null, StopCause.ISOLATION,
                "HA isolation response", null, null, "", true, why));
        assertThat(during.cause()).as("killed by the watchdog while the isolation power-off ran").isEqualTo(
                StopCause.SELF_FENCE);
        ExitClassifier.Verdict migrated = ExitClassifier.classify(new ExitClassifier.Facts(137, StopCause.MIGRATED,
                null, null, null, "", false, why));
        assertThat(migrated.cause()).as("the guest runs on the destination").isEqualTo(StopCause.MIGRATED);
    }

    @ParameterizedTest
    @MethodSource("table")
    void classifies(Integer exit, StopCause requested, String detail, Boolean guest, String reason, boolean away,
                    VmState state, StopCause cause, String text) {
        ExitClassifier.Verdict v = ExitClassifier.classify(new ExitClassifier.Facts(exit, requested, detail, guest,
                reason, "qemu: some error", away, null));
        assertThat(v.state()).isEqualTo(state);
        assertThat(v.cause()).isEqualTo(cause);
        assertThat(v.reason()).contains(text);
    }
}
