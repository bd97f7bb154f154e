package org.carevisor.manager.security;

import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.carevisor.manager.audit.AuditLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Audits the refusals of the agent listener (bad join tokens, forged reports, oversized bodies) without letting
 * a flood of them flood the audit trail. A refusal has a source (who: a client address, a host) and a kind
 * (what: the code, and the detail where it says something new). Each new kind is recorded at once; the same
 * kind again within the window is counted and logged, and its next record after the window says how many there
 * were. A source gets at most {@link #PER_SOURCE} records per window whatever it varies; the rest is counted
 * the same way. At most {@link #MAX_KEYS} kinds are remembered. Thread-safe.
 */
public final class RefusalLog {
    private static final Logger LOG = LoggerFactory.getLogger(RefusalLog.class);
    static final int MAX_KEYS = 10_000;
    static final int PER_SOURCE = 20;

    private record Seen(Instant recordedAt, int suppressed) {
    }

    private record Budget(Instant since, int used) {
    }

    private final AuditLog audit;
    private final Duration window;
    private final Map<String, Seen> seen = new ConcurrentHashMap<>();
    private final Map<String, Budget> budgets = new ConcurrentHashMap<>();

    public RefusalLog(AuditLog audit, Duration window) {
        this.audit = audit;
        this.window = window;
    }

    /** Records {@code entry} unless its kind was recorded within the window or its source used its budget. */
    public void refused(String source, String kind, AuditLog.Entry entry) {
        Instant now = Instant.now();
        String key = source + "|" + kind;
        int[] earlier = {0};
        boolean[] fresh = {false};
        seen.compute(key, (k, s) -> {
            if (s == null || !s.recordedAt().plus(window).isAfter(now)) {
                earlier[0] = s == null ? 0 : s.suppressed();
                fresh[0] = true;
                return new Seen(now, 0);
            }
            return new Seen(s.recordedAt(), s.suppressed() + 1);
        });
        boolean withinBudget = fresh[0] && budgets.compute(source, (k, b) -> b == null
                || !b.since().plus(window).isAfter(now) ? new Budget(now, 1) : new Budget(b.since(), b.used() + 1))
                .used() <= PER_SOURCE;
        if (!withinBudget) {
            if (fresh[0]) {
                seen.put(key, new Seen(now.minus(window), earlier[0] + 1)); // recorded with the next one
            }
            LOG.info("refused again (audited at most once per {} s): {} {}: {}", window.toSeconds(), entry.action(),
                    entry.targetName() == null ? entry.targetId() : entry.targetName(), entry.reason());
            return;
        }
        LOG.warn("refused: {} {} from {}: {}", entry.action(), entry.targetName() == null ? entry.targetId()
                : entry.targetName(), entry.actor().address() == null ? entry.actor().name() : entry.actor().address(),
                entry.reason());
        String reason = entry.reason();
        if (earlier[0] > 0) {
            reason = Clip.text(reason, 1800) + " (" + earlier[0] + " more such refusal(s) since the previous record)";
        }
        audit.record(new AuditLog.Entry(entry.actor(), entry.action(), entry.targetType(), entry.targetId(),
                entry.targetName(), entry.oldValue(), entry.newValue(), Clip.text(reason, 2000), entry.outcome(),
                entry.taskId()));
        if (seen.size() > MAX_KEYS || budgets.size() > MAX_KEYS) {
            forgetOld(now);
        }
    }

    private void forgetOld(Instant now) {
        for (Iterator<Map.Entry<String, Seen>> it = seen.entrySet().iterator(); it.hasNext(); ) {
            if (!it.next().getValue().recordedAt().plus(window).isAfter(now)) {
                it.remove();
            }
        }
        budgets.values().removeIf(b -> !b.since().plus(window).isAfter(now));
        if (seen.size() > MAX_KEYS || budgets.size() > MAX_KEYS) {
            seen.clear(); // a flood of distinct kinds: start over rather than grow without bound
            budgets.clear();
        }
    }
}
