package org.carevisor.manager.snapshot;

/** Rules for snapshot names: readable text ("before upgrade 2.3"), unique per VM. */
public final class SnapshotNames {
    public static final int MAX_LENGTH = 64;

    private SnapshotNames() {
    }

    /** Null when the name is acceptable, else what is wrong with it. */
    public static String problem(String name) {
        if (name == null || name.isBlank()) {
            return "is required";
        }
        if (name.length() > MAX_LENGTH) {
            return "must be at most " + MAX_LENGTH + " characters long (has " + name.length() + ")";
        }
        for (char c : name.toCharArray()) {
            if (Character.isISOControl(c)) {
                return "must not contain control characters (found U+" + String.format("%04X", (int) c) + ")";
            }
        }
        if (name.contains("/") || name.contains("\\")) {
            return "must not contain '/' or '\\'";
        }
        if (!name.equals(name.strip())) {
            return "must not start or end with spaces";
        }
        return null;
    }
}
