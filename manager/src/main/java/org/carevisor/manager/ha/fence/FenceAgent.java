package org.carevisor.manager.ha.fence;

import java.time.Duration;

/**
 * Powers a host off from outside, so that the VMs it ran can safely run elsewhere: a BMC over IPMI or
 * Redfish in production, the lab agent in a local lab. {@link #powerOff} returns only when the host is
 * confirmed off, or with the reason it could not be confirmed; it never throws for a failed attempt.
 */
public interface FenceAgent {
    /** An attempt's outcome, with what was seen (kept in the audit trail). */
    record Result(boolean off, String detail) {
        public static Result off(String detail) {
            return new Result(true, detail);
        }

        public static Result failed(String detail) {
            return new Result(false, detail);
        }
    }

    /** A name for logs and the audit trail, e.g. {@code ipmi 10.0.9.21}. */
    String describe();

    /** Turns the host off and confirms it within {@code timeout}. */
    Result powerOff(Duration timeout);
}
