package org.carevisor.manager.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.carevisor.manager.vm.Lifecycle;
import org.carevisor.manager.vm.PowerState;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmState;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The reconcile loop's decisions as a table: desired x observed x circumstances -> action. */
class ReconcileDecisionTest {
    private static final PowerState RUN = PowerState.RUNNING;
    private static final PowerState STOP = PowerState.STOPPED;
    private static final PowerState PAUSE = PowerState.PAUSED;

    static Stream<Arguments> table() {
        return Stream.of(
                // desired, lifecycle, hostConnected, busy, observed, cause, everObserved -> action
                row(RUN, Lifecycle.READY, true, false, VmState.RUNNING, null, true, ReconcileAction.NONE),
                row(RUN, Lifecycle.READY, true, false, VmState.STOPPED, null, false, ReconcileAction.START),
                row(RUN, Lifecycle.READY, true, false, VmState.STOPPED, StopCause.HOST_SHUTDOWN, true, ReconcileAction.START),
                row(RUN, Lifecycle.READY, true, false, VmState.STOPPED, StopCause.REQUESTED, true, ReconcileAction.START),
                row(RUN, Lifecycle.READY, true, false, VmState.STOPPED, StopCause.GUEST, true, ReconcileAction.NONE),
                row(RUN, Lifecycle.READY, true, false, VmState.STOPPED, StopCause.START_FAILED, true, ReconcileAction.NONE),
                row(RUN, Lifecycle.READY, true, false, VmState.CRASHED, StopCause.CRASH, true, ReconcileAction.NONE),
                row(RUN, Lifecycle.READY, true, false, VmState.CRASHED, StopCause.HOST_LOST, true, ReconcileAction.START),
                row(RUN, Lifecycle.READY, true, true, VmState.CRASHED, StopCause.HOST_LOST, true, ReconcileAction.NONE),
                row(STOP, Lifecycle.READY, true, false, VmState.CRASHED, StopCause.HOST_LOST, true, ReconcileAction.NONE),
                row(RUN, Lifecycle.READY, true, false, VmState.PAUSED, null, true, ReconcileAction.RESUME),
                row(RUN, Lifecycle.READY, true, false, VmState.PAUSED, StopCause.NO_SPACE, true, ReconcileAction.NONE),
                row(RUN, Lifecycle.READY, true, false, VmState.STARTING, null, true, ReconcileAction.NONE),
                row(RUN, Lifecycle.READY, true, false, VmState.STOPPING, null, true, ReconcileAction.NONE),
                row(RUN, Lifecycle.READY, false, false, VmState.STOPPED, null, true, ReconcileAction.NONE),
                row(RUN, Lifecycle.READY, true, true, VmState.STOPPED, null, true, ReconcileAction.NONE),
                row(RUN, Lifecycle.CREATING, true, false, VmState.STOPPED, null, false, ReconcileAction.NONE),
                row(RUN, Lifecycle.DELETING, true, false, VmState.RUNNING, null, true, ReconcileAction.NONE),
                row(STOP, Lifecycle.READY, true, false, VmState.RUNNING, null, true, ReconcileAction.SHUTDOWN),
                row(STOP, Lifecycle.READY, true, false, VmState.PAUSED, null, true, ReconcileAction.SHUTDOWN),
                row(STOP, Lifecycle.READY, true, false, VmState.STOPPING, null, true, ReconcileAction.NONE),
                row(STOP, Lifecycle.READY, true, false, VmState.STOPPED, null, true, ReconcileAction.NONE),
                row(STOP, Lifecycle.READY, true, false, VmState.CRASHED, StopCause.CRASH, true, ReconcileAction.NONE),
                row(STOP, Lifecycle.READY, false, false, VmState.RUNNING, null, true, ReconcileAction.NONE),
                row(PAUSE, Lifecycle.READY, true, false, VmState.RUNNING, null, true, ReconcileAction.PAUSE),
                row(PAUSE, Lifecycle.READY, true, false, VmState.PAUSED, null, true, ReconcileAction.NONE),
                row(PAUSE, Lifecycle.READY, true, false, VmState.STOPPED, null, true, ReconcileAction.NONE),
                row(RUN, Lifecycle.READY, true, false, VmState.UNKNOWN, null, true, ReconcileAction.NONE),
                shuttingDown(RUN, VmState.STOPPED, StopCause.HOST_SHUTDOWN, ReconcileAction.NONE),
                shuttingDown(RUN, VmState.STOPPING, StopCause.HOST_SHUTDOWN, ReconcileAction.NONE),
                shuttingDown(STOP, VmState.RUNNING, null, ReconcileAction.SHUTDOWN));
    }

    private static Arguments row(PowerState desired, Lifecycle lifecycle, boolean connected, boolean busy,
                                 VmState observed, StopCause cause, boolean ever, ReconcileAction action) {
        return Arguments.of(desired, lifecycle, connected, false, busy, observed, cause, ever, action);
    }

    /** The host reports that it is shutting down. */
    private static Arguments shuttingDown(PowerState desired, VmState observed, StopCause cause, ReconcileAction action) {
        return Arguments.of(desired, Lifecycle.READY, true, true, false, observed, cause, true, action);
    }

    @ParameterizedTest(name = "desired {0}, {1}, host connected {2}, shutting down {3}, busy {4}, observed {5} ({6}) -> {8}")
    @MethodSource("table")
    void decides(PowerState desired, Lifecycle lifecycle, boolean connected, boolean shuttingDown, boolean busy,
                 VmState observed, StopCause cause, boolean ever, ReconcileAction expected) {
        ReconcileDecision.Decision d = ReconcileDecision.decide(new ReconcileDecision.Input(desired, lifecycle,
                connected, shuttingDown, busy, observed, cause, ever));
        assertThat(d.action()).isEqualTo(expected);
        assertThat(d.why()).isNotBlank();
    }
}
