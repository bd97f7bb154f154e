package org.carevisor.manager.task;

/** Lets a running task report its phase and progress. */
public interface TaskContext {
    String taskId();

    /** Sets the phase and progress (0-100); persisted so that clients polling the task see it. */
    void progress(int percent, String phase);

    /** Sets the result message shown when the task ends. */
    void message(String message);
}
