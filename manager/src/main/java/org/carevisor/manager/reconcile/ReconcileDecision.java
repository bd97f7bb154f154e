package org.carevisor.manager.reconcile;

import org.carevisor.manager.vm.Lifecycle;
import org.carevisor.manager.vm.PowerState;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmState;

/**
 * The reconcile loop's deciding step: a pure function from desired and observed state to one action,
 * with the reason. Table-tested in ReconcileDecisionTest.
 */
public final class ReconcileDecision {
    /** What the loop knows about one VM. */
    public record Input(PowerState desired, Lifecycle lifecycle, boolean hostConnected, boolean hostShuttingDown,
                        boolean busy, VmState observed, StopCause cause, boolean everObserved) {
    }

    /** The decision and why. */
    public record Decision(ReconcileAction action, String why) {
    }

    private ReconcileDecision() {
    }

    public static Decision decide(Input in) {
        if (in.lifecycle() != Lifecycle.READY) {
            return none("VM is " + in.lifecycle().json());
        }
        if (in.busy()) {
            return none("a task is working on the VM");
        }
        if (!in.hostConnected()) {
            return none("host is not reporting; nothing can be known or done safely");
        }
        VmState o = in.observed();
        return switch (in.desired()) {
            case RUNNING -> switch (o) {
                case RUNNING, STARTING, STOPPING, MIGRATING, INCOMING -> none("converged or in transition");
                case PAUSED -> in.cause() == StopCause.NO_SPACE
                        ? none("paused by QEMU for a full storage; its host resumes it once space is free")
                        : new Decision(ReconcileAction.RESUME, "desired running, observed paused");
                case CRASHED -> in.cause() == StopCause.HOST_LOST && !in.hostShuttingDown()
                        ? new Decision(ReconcileAction.START, "desired running; its host went down with it running"
                        + " (host-lost) and is back")
                        : none("VM crashed; it is restarted only by an operator (or an HA policy)");
                case STOPPED -> in.hostShuttingDown()
                        ? none("the host is shutting down; the VM starts again when the host is back")
                        : in.cause() == StopCause.START_FAILED
                        ? none("the last start failed; waiting for an operator")
                        : in.cause() == StopCause.GUEST
                        ? none("the guest powered off; desired state follows the guest")
                        : new Decision(ReconcileAction.START, in.everObserved()
                        ? "desired running, observed stopped (" + (in.cause() == null ? "not defined on host"
                        : in.cause().json()) + ")" : "desired running, never started");
                case UNKNOWN -> none("observed state unknown");
            };
            case STOPPED -> switch (o) {
                case RUNNING, PAUSED -> new Decision(ReconcileAction.SHUTDOWN, "desired stopped, observed " + o.json());
                case MIGRATING, INCOMING -> none("a live migration is in progress; it is resolved first");
                default -> none("converged or in transition");
            };
            case PAUSED -> switch (o) {
                case RUNNING -> new Decision(ReconcileAction.PAUSE, "desired paused, observed running");
                case STOPPED, CRASHED -> none("desired paused but the VM is not running; an operator must start it");
                default -> none("converged or in transition");
            };
        };
    }

    private static Decision none(String why) {
        return new Decision(ReconcileAction.NONE, why);
    }
}
