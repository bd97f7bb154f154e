package org.carevisor.manager.alarm;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The manager's active alarms: conditions an operator must act on (the audit trail was tampered with, a key or
 * the anchor file cannot be used). Each has a stable code and a reason; {@code GET /api/v1/health} is degraded
 * while any is raised and lists them. Raising an alarm again with the same reason keeps its first time.
 * Thread-safe.
 */
public final class Alarms {
    /** One active alarm. */
    public record Alarm(String code, String reason, Instant since) {
    }

    private final Map<String, Alarm> active = new ConcurrentHashMap<>();

    /** Raises (or updates the reason of) alarm {@code code}; true when it was not raised with this reason before. */
    public boolean raise(String code, String reason) {
        Alarm old = active.get(code);
        if (old != null && old.reason().equals(reason)) {
            return false;
        }
        active.put(code, new Alarm(code, reason, old == null ? Instant.now() : old.since()));
        return true;
    }

    /** Clears alarm {@code code}; true when it was raised. */
    public boolean clear(String code) {
        return active.remove(code) != null;
    }

    public boolean raised(String code) {
        return active.containsKey(code);
    }

    /** The active alarms, oldest first. */
    public List<Alarm> active() {
        List<Alarm> out = new ArrayList<>(active.values());
        out.sort(java.util.Comparator.comparing(Alarm::since).thenComparing(Alarm::code));
        return out;
    }
}
