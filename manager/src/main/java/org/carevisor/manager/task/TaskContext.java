package org.carevisor.manager.task;

/** Lets a running task report its phase and progress, and learn that it should stop. */
public interface TaskContext {
    String taskId();

    /** Sets the phase and progress (0-100); persisted so that clients polling the task see it. */
    void progress(int percent, String phase);

    /** Sets the result message shown when the task ends. */
    void message(String message);

    /** Declares that this task reacts to {@link #cancelRequested()}; other tasks refuse cancellation. */
    default void cancellable() {
    }

    /** True once someone asked to cancel the task; a cancellable task then stops as soon as it safely can. */
    default boolean cancelRequested() {
        return false;
    }
}
