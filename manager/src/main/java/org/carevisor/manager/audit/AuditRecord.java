package org.carevisor.manager.audit;

import com.fasterxml.jackson.annotation.JsonRawValue;
import java.time.Instant;

/**
 * One entry of the audit trail: who did what to which object, when, the value before and after (JSON),
 * why, and how it ended.
 */
public record AuditRecord(long seq, Instant at, String actor, String action, String targetType, String targetId,
                          String targetName, @JsonRawValue String oldValue, @JsonRawValue String newValue,
                          String reason, String outcome, String clientAddress, String taskId) {
}
