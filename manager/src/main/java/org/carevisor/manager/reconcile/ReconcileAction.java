package org.carevisor.manager.reconcile;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** What the reconcile loop may do to a VM to bring it to its desired state. */
public enum ReconcileAction {
    NONE, START, SHUTDOWN, PAUSE, RESUME;

    @JsonValue
    public String json() {
        return name().toLowerCase(Locale.ROOT);
    }
}
