package org.carevisor.protocol;

import java.time.Instant;
import java.util.List;

/**
 * What an agent observes of one VM.
 *
 * @param vmId        VM id
 * @param state       observed state
 * @param reason      human readable reason of the state (for crashed: what killed QEMU)
 * @param cause       why the process ended, when it ended
 * @param pid         QEMU process id while it runs
 * @param since       when the VM entered this state
 * @param startedAt   when the current or last QEMU process started
 * @param exitCode    QEMU's exit code when it ended (128+n for signal n)
 * @param forwards    forwarded ports of the running VM with their host addresses
 * @param specVersion spec version the running process was started with
 */
public record VmStatus(String vmId, VmState state, String reason, StopCause cause, Long pid, Instant since,
                       Instant startedAt, Integer exitCode, List<PortForward> forwards, long specVersion) {
    public VmStatus {
        forwards = forwards == null ? List.of() : List.copyOf(forwards);
    }
}
