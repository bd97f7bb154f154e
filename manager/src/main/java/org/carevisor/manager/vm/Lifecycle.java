package org.carevisor.manager.vm;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * Whether a VM's definition is usable: being created, ready, being deleted, or archived (a read-only record
 * whose disks and definition live in an archive file until it is restored).
 */
public enum Lifecycle {
    CREATING, READY, DELETING, ARCHIVED;

    @JsonValue
    public String json() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Refuses an operation on a VM that is not ready, with what to do: wait for a running creation or deletion,
     * or restore an archived VM first.
     */
    public static void requireReady(VmRecord vm, String operation) {
        String advice = switch (vm.lifecycle()) {
            case READY -> null;
            case CREATING -> "it is still being created; wait for its task";
            case DELETING -> "it is being deleted";
            case ARCHIVED -> "it is archived (a read-only record); restore it first";
        };
        if (advice != null) {
            throw org.carevisor.manager.api.ApiException.conflict("vm-not-ready", "cannot " + operation + " VM '"
                    + vm.name() + "': " + advice);
        }
    }

    public static Lifecycle parse(String s) {
        return valueOf(s.toUpperCase(Locale.ROOT));
    }
}
