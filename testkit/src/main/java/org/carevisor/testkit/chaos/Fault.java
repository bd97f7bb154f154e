package org.carevisor.testkit.chaos;

import java.util.Random;

/**
 * One kind of fault the campaign injects: {@link #inject} breaks something now and returns how to heal it. Later
 * capabilities (backup, replication, manager failover) add their faults to {@link Faults#all}.
 */
public interface Fault {
    /** A short stable name (the report counts by it). */
    String kind();

    /** Whether the fault can be injected now (e.g. a host whose agent runs). */
    default boolean applicable(ChaosLab lab) {
        return true;
    }

    /** Injects the fault; the returned heal undoes it (called after a random hold). */
    Heal inject(ChaosLab lab, Random rnd) throws Exception;

    /** How one injected fault is healed, and what it was (for the log and a replay). */
    interface Heal {
        String what();

        void heal() throws Exception;
    }

    /** A heal that names the fault and runs {@code action}. */
    static Heal heal(String what, ThrowingRunnable action) {
        return new Heal() {
            @Override
            public String what() {
                return what;
            }

            @Override
            public void heal() throws Exception {
                action.run();
            }
        };
    }

    /** A runnable that may throw. */
    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws Exception;
    }
}
