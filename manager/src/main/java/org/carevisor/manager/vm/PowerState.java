package org.carevisor.manager.vm;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** The power state a user wants a VM in (desired state). */
public enum PowerState {
    RUNNING, STOPPED, PAUSED;

    @JsonValue
    public String json() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static PowerState parse(String s) {
        return valueOf(s.toUpperCase(Locale.ROOT));
    }
}
