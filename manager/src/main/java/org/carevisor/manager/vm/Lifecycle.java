package org.carevisor.manager.vm;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Whether a VM's definition is usable: being created, ready, or being deleted. */
public enum Lifecycle {
    CREATING, READY, DELETING;

    @JsonValue
    public String json() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Lifecycle parse(String s) {
        return valueOf(s.toUpperCase(Locale.ROOT));
    }
}
