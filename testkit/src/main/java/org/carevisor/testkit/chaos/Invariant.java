package org.carevisor.testkit.chaos;

import java.util.List;

/**
 * A property the system keeps under faults. {@link When#ALWAYS} invariants are checked about once a second while
 * faults are active; {@link When#CONVERGED} ones once the system has had time to heal after each fault;
 * {@link When#END} ones once at the end of the campaign. A check returns the violations it saw (empty: none).
 */
public interface Invariant {
    /** When the invariant must hold. */
    enum When { ALWAYS, CONVERGED, END }

    String name();

    When when();

    List<String> check(ChaosLab lab) throws Exception;
}
