package org.carevisor.manager.task;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Life of a task: queued, running, then succeeded or failed. */
public enum TaskState {
    QUEUED, RUNNING, SUCCEEDED, FAILED;

    @JsonValue
    public String json() {
        return name().toLowerCase(Locale.ROOT);
    }

    public boolean finished() {
        return this == SUCCEEDED || this == FAILED;
    }
}
