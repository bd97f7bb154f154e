package org.carevisor.manager.ups;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * What a UPS reading means for the site (a pure decision, table-tested). Each UPS watched has a {@link State}; a
 * reading (or a failed read) gives the next state and the events to record. A site shutdown is asked for once per
 * outage, when the UPS is critical as Network UPS Tools' {@code upsmon} defines it:
 * <ul>
 *   <li>on battery and battery low ({@code OB LB}), or forced shutdown ({@code FSD}) from the NUT primary;</li>
 *   <li>on battery and no longer answering (after {@link Settings#unreachableAfter} failed reads): what powers
 *       upsd may be going down with the site;</li>
 *   <li>on battery for {@link Settings#shutdownAfterOnBattery} (when set): for sites that shut down early, keeping
 *       the battery for the hosts' clean power-off rather than running the guests to the last minute.</li>
 * </ul>
 * A UPS that cannot be read while on mains power raises an alarm but never shuts anything down: a cut network to
 * upsd must not stop a hospital. A reading on mains power (without FSD) clears the request, so the next critical
 * reading asks again; the monitor also clears it ({@link State#notAsked}) when no shutdown that switches the hosts
 * off could start.
 */
public final class UpsPolicy {
    /**
     * @param shutdownAfterOnBattery on battery this long starts a shutdown; null: only when critical
     * @param unreachableAfter       failed reads in a row before the UPS counts as unreachable
     */
    public record Settings(Duration shutdownAfterOnBattery, int unreachableAfter) {
    }

    /** Power as last read: {@code unknown} before the first reading. */
    public enum Power { UNKNOWN, ONLINE, ON_BATTERY }

    /** What is known of one UPS. */
    public record State(Power power, Instant onBatterySince, boolean low, int failures, boolean unreachable,
                        boolean shutdownAsked) {
        public static State initial() {
            return new State(Power.UNKNOWN, null, false, 0, false, false);
        }

        /** This state with the shutdown request cleared (it could not start: the next critical reading asks again). */
        public State notAsked() {
            return new State(power, onBatterySince, low, failures, unreachable, false);
        }
    }

    public enum Kind { ON_BATTERY, ONLINE, BATTERY_LOW, UNREACHABLE, REACHABLE, SHUTDOWN }

    /** Something to record (and, for {@link Kind#SHUTDOWN}, to do). */
    public record Event(Kind kind, String detail) {
    }

    public record Outcome(State next, List<Event> events) {
    }

    private UpsPolicy() {
    }

    /** A successful reading. */
    public static Outcome reading(State s, NutClient.Reading r, Instant now, Settings settings) {
        List<Event> events = new ArrayList<>();
        if (s.unreachable()) {
            events.add(new Event(Kind.REACHABLE, "answers again: " + String.join(" ", r.flags())));
        }
        Power power = r.onBattery() ? Power.ON_BATTERY : r.online() ? Power.ONLINE : s.power();
        Instant since = s.onBatterySince();
        boolean asked = s.shutdownAsked();
        boolean low = s.low();
        if (power == Power.ON_BATTERY && s.power() != Power.ON_BATTERY) {
            since = now;
            events.add(new Event(Kind.ON_BATTERY, "on battery" + charge(r)));
        } else if (power == Power.ONLINE && s.power() == Power.ON_BATTERY) {
            events.add(new Event(Kind.ONLINE, "on mains power again after "
                    + Duration.between(since, now).toSeconds() + " s on battery" + charge(r)));
            since = null;
        }
        if (power == Power.ONLINE && !r.forcedShutdown()) {
            asked = false; // on mains power: the next critical reading asks again (also after an FSD test on mains)
        }
        if (r.batteryLow() && !low) {
            events.add(new Event(Kind.BATTERY_LOW, "battery low" + charge(r)));
        }
        low = r.batteryLow();
        String why = null;
        if (r.forcedShutdown()) {
            why = "forced shutdown (FSD) set by the NUT primary";
        } else if (power == Power.ON_BATTERY && r.batteryLow()) {
            why = "on battery and battery low" + charge(r);
        } else if (power == Power.ON_BATTERY && settings.shutdownAfterOnBattery() != null
                && !now.isBefore(since.plus(settings.shutdownAfterOnBattery()))) {
            why = "on battery for " + Duration.between(since, now).toSeconds() + " s (the site shuts down after "
                    + settings.shutdownAfterOnBattery().toSeconds() + " s)" + charge(r);
        }
        if (why != null && !asked) {
            asked = true;
            events.add(new Event(Kind.SHUTDOWN, why));
        }
        return new Outcome(new State(power, since, low, 0, false, asked), events);
    }

    /** A failed read, with what went wrong. */
    public static Outcome failure(State s, String error, Instant now, Settings settings) {
        List<Event> events = new ArrayList<>();
        int failures = s.failures() + 1;
        boolean unreachable = s.unreachable() || failures >= settings.unreachableAfter();
        if (unreachable && !s.unreachable()) {
            events.add(new Event(Kind.UNREACHABLE, "not answering (" + failures + " reads failed): " + error));
        }
        boolean asked = s.shutdownAsked();
        if (unreachable && s.power() == Power.ON_BATTERY && !asked) {
            asked = true;
            events.add(new Event(Kind.SHUTDOWN, "on battery since " + Duration.between(s.onBatterySince(), now)
                    .toSeconds() + " s and no longer answering (" + error + ")"));
        }
        return new Outcome(new State(s.power(), s.onBatterySince(), s.low(), failures, unreachable, asked), events);
    }

    private static String charge(NutClient.Reading r) {
        if (r.chargePercent() == null && r.runtimeSeconds() == null) {
            return "";
        }
        return " (" + (r.chargePercent() == null ? "" : "charge " + r.chargePercent() + " %")
                + (r.chargePercent() != null && r.runtimeSeconds() != null ? ", " : "")
                + (r.runtimeSeconds() == null ? "" : "runtime " + r.runtimeSeconds() + " s") + ")";
    }
}
