package org.carevisor.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmState;
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
                Arguments.of(null, null, null, null, null, true, VmState.CRASHED, StopCause.CRASH, "vanished"),
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
                        "while the agent was not running"));
    }

    @ParameterizedTest
    @MethodSource("table")
    void classifies(Integer exit, StopCause requested, String detail, Boolean guest, String reason, boolean away,
                    VmState state, StopCause cause, String text) {
        ExitClassifier.Verdict v = ExitClassifier.classify(new ExitClassifier.Facts(exit, requested, detail, guest,
                reason, "qemu: some error", away));
        assertThat(v.state()).isEqualTo(state);
        assertThat(v.cause()).isEqualTo(cause);
        assertThat(v.reason()).contains(text);
    }
}
