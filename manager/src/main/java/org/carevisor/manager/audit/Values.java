package org.carevisor.manager.audit;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The old or new value of an audit record as an ordered map that keeps missing values as JSON {@code null}
 * ({@link Map#of} refuses nulls, and {@code String.valueOf} would record the text "null"). Thread-safe (stateless).
 */
public final class Values {
    private Values() {
    }

    /** A map of alternating keys and values, in that order; values may be null. */
    public static Map<String, Object> of(Object... keysAndValues) {
        if (keysAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("keys and values must alternate");
        }
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return m;
    }
}
