package org.carevisor.manager.task;

import java.time.Instant;

/**
 * A long operation as the API shows it.
 *
 * @param id         task id
 * @param kind       what it does, e.g. {@code vm.start}
 * @param target     the object it works on
 * @param state      queued, running, succeeded or failed
 * @param phase      current step, e.g. {@code creating disks}
 * @param progress   0 to 100
 * @param message    last progress message or result
 * @param error      why it failed
 * @param actor      who asked for it
 */
public record TaskRecord(String id, String kind, Target target, TaskState state, String phase, int progress,
                         String message, TaskError error, String actor, Instant createdAt, Instant startedAt,
                         Instant finishedAt) {
    /** The object a task works on. */
    public record Target(String type, String id, String name) {
    }

    /** Why a task failed: a stable code and a sentence. */
    public record TaskError(String code, String detail) {
    }
}
