package org.carevisor.agent.vm;

import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmState;

/**
 * Decides what a QEMU exit means: a requested stop, the guest powering off, an HA action (self-fencing,
 * isolation response) or a crash. Pure and table-tested.
 */
public final class ExitClassifier {
    /**
     * What is known when QEMU's process ended.
     *
     * @param selfFence the reason when the HA watchdog killed QEMU on purpose (self-fencing), else null
     */
    public record Facts(Integer exitCode, StopCause requested, String requestDetail, Boolean guestShutdown,
                        String shutdownReason, String qemuLogTail, boolean agentWasAway, String selfFence) {
    }

    /** The conclusion: observed state, cause and a sentence for operators. */
    public record Verdict(VmState state, StopCause cause, String reason) {
    }

    private ExitClassifier() {
    }

    public static Verdict classify(Facts f) {
        if (f.requested() == StopCause.MIGRATION_ABORTED) {
            String tail = f.qemuLogTail() == null || f.qemuLogTail().isBlank() ? "" : ": " + f.qemuLogTail().strip();
            return new Verdict(VmState.STOPPED, StopCause.MIGRATION_ABORTED,
                    "the incoming live migration did not complete; the guest never ran on this host" + tail);
        }
        if (f.requested() == StopCause.MIGRATED) {
            return new Verdict(VmState.STOPPED, StopCause.MIGRATED,
                    "migrated to another host; this host's QEMU ended after the hand-over");
        }
        if (f.selfFence() != null) {
            return new Verdict(VmState.CRASHED, StopCause.SELF_FENCE, f.selfFence());
        }
        if (f.requested() == StopCause.ISOLATION) {
            // however QEMU ended, it no longer runs: the VM is released to be restarted elsewhere
            return new Verdict(VmState.STOPPED, StopCause.ISOLATION, f.requestDetail() != null ? f.requestDetail()
                    : "HA isolation response: the host reached neither the manager nor a peer");
        }
        if (f.exitCode() == null && f.agentWasAway() && f.requested() == null) {
            return new Verdict(VmState.CRASHED, StopCause.HOST_LOST, "QEMU was gone without an exit status when the"
                    + " agent started: the host lost power, rebooted or its processes were killed (fenced) with the VM"
                    + " running");
        }
        if (f.exitCode() == null) {
            return new Verdict(VmState.CRASHED, StopCause.CRASH, "QEMU process vanished without an exit status"
                    + " (the host may have rebooted or the process wrapper was killed)");
        }
        int code = f.exitCode();
        if (code > 128 && code < 160) {
            int signal = code - 128;
            return new Verdict(VmState.CRASHED, StopCause.CRASH, "QEMU was killed by signal " + signal
                    + " (" + signalName(signal) + ")" + (f.requested() != null ? " while stopping" : ""));
        }
        if (code != 0) {
            String tail = f.qemuLogTail() == null || f.qemuLogTail().isBlank() ? "no message"
                    : f.qemuLogTail().strip();
            return new Verdict(VmState.CRASHED, StopCause.CRASH, "QEMU exited with code " + code + ": " + tail);
        }
        if ("host-signal".equals(f.shutdownReason()) && f.requested() == null) {
            return new Verdict(VmState.CRASHED, StopCause.CRASH,
                    "QEMU was terminated by a signal from outside Carevisor (SIGTERM, SIGINT or SIGHUP)");
        }
        if ("guest-panic".equals(f.shutdownReason()) && f.requested() == null) {
            return new Verdict(VmState.CRASHED, StopCause.CRASH, "the guest's kernel panicked (reported by its"
                    + " pvpanic device); QEMU ended; the guest's console log shows why");
        }
        if (f.requested() != null) {
            String how = Boolean.TRUE.equals(f.guestShutdown()) ? "the guest shut down"
                    : f.requestDetail() != null ? f.requestDetail() : "QEMU quit";
            return new Verdict(VmState.STOPPED, f.requested(), f.requested() == StopCause.HOST_SHUTDOWN
                    ? "stopped because the host is shutting down (" + how + ")"
                    : "stopped on request (" + how + ")");
        }
        if (Boolean.TRUE.equals(f.guestShutdown()) || f.agentWasAway()) {
            return new Verdict(VmState.STOPPED, StopCause.GUEST, f.agentWasAway() && f.guestShutdown() == null
                    ? "QEMU exited normally while the agent was not running (guest powered off)"
                    : "the guest powered off");
        }
        return new Verdict(VmState.STOPPED, StopCause.GUEST, "QEMU exited normally ("
                + (f.shutdownReason() == null ? "no shutdown event" : f.shutdownReason()) + ")");
    }

    static String signalName(int signal) {
        return switch (signal) {
            case 1 -> "SIGHUP";
            case 2 -> "SIGINT";
            case 6 -> "SIGABRT";
            case 9 -> "SIGKILL";
            case 11 -> "SIGSEGV";
            case 15 -> "SIGTERM";
            default -> "signal " + signal;
        };
    }
}
