package org.carevisor.manager.audit;

import com.fasterxml.jackson.annotation.JsonRawValue;
import java.time.Instant;

/**
 * One entry of the audit trail: who did what to which object, when, the value before and after (JSON),
 * why, how it ended, the electronic signature if the action was signed, and its place in the hash chain.
 */
public record AuditRecord(long seq, Instant at, String actor, String actorId, String action, String targetType,
                          String targetId, String targetName, @JsonRawValue String oldValue,
                          @JsonRawValue String newValue, String reason, String outcome, String clientAddress,
                          String taskId, SignatureView signature, String prevHash, String hash) {
    /** How a signature is shown: printed name, date and time, meaning (21 CFR 11.50). */
    public record SignatureView(String printedName, String meaning, Instant signedAt) {
        @Override
        public String toString() {
            return "signed by " + printedName + " (" + meaning + ") at " + signedAt;
        }
    }

    /** The canonical form the record's hash covers (see {@link AuditChain}). */
    public String canonical() {
        return AuditChain.canonical(this);
    }
}
