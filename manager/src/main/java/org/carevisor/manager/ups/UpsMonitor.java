package org.carevisor.manager.ups;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.carevisor.manager.alarm.Alarms;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.site.SiteShutdownService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the site's UPSes through Network UPS Tools ({@code --ups NAME@HOST}, read every {@link #INTERVAL}); every
 * change is audited (ups.on-battery, ups.online, ups.battery-low, ups.unreachable, ups.reachable) and raises or
 * clears an alarm; when {@link UpsPolicy} says a UPS is critical, an orderly site shutdown starts (once per
 * outage; not while one runs). Runs as the manager job {@code ups}.
 */
public final class UpsMonitor {
    private static final Logger LOG = LoggerFactory.getLogger(UpsMonitor.class);
    public static final Duration INTERVAL = Duration.ofSeconds(2);
    private static final Actor ACTOR = Actor.system("ups");

    private final List<UpsTarget> targets;
    private final UpsPolicy.Settings settings;
    private final int vmTimeoutSeconds;
    private final NutClient client;
    private final SiteShutdownService site;
    private final AuditLog audit;
    private final Alarms alarms;
    private final Map<String, UpsPolicy.State> states = new ConcurrentHashMap<>();
    private final Map<String, NutClient.Reading> last = new ConcurrentHashMap<>();
    private final Map<String, String> errors = new ConcurrentHashMap<>();
    /** When a UPS whose shutdown request could not take effect asks again. */
    private final Map<String, Instant> retryAt = new ConcurrentHashMap<>();
    private static final java.time.Duration RETRY = java.time.Duration.ofSeconds(30);

    public UpsMonitor(List<UpsTarget> targets, UpsPolicy.Settings settings, int vmTimeoutSeconds, NutClient client,
                      SiteShutdownService site, AuditLog audit, Alarms alarms) {
        this.targets = List.copyOf(targets);
        this.settings = settings;
        this.vmTimeoutSeconds = vmTimeoutSeconds;
        this.client = client;
        this.site = site;
        this.audit = audit;
        this.alarms = alarms;
        targets.forEach(t -> states.put(t.toString(), UpsPolicy.State.initial()));
    }

    public boolean enabled() {
        return !targets.isEmpty();
    }

    /** One pass: reads every UPS and acts on what changed. */
    public void pass() {
        for (UpsTarget t : targets) {
            String key = t.toString();
            UpsPolicy.Outcome o;
            Instant now = Instant.now();
            try {
                NutClient.Reading r = client.read(t);
                last.put(key, r);
                errors.remove(key);
                o = UpsPolicy.reading(states.get(key), r, now, settings);
            } catch (NutClient.NutException e) {
                errors.put(key, e.getMessage());
                o = UpsPolicy.failure(states.get(key), e.getMessage(), now, settings);
            }
            states.put(key, o.next());
            for (UpsPolicy.Event e : o.events()) {
                if (e.kind() == UpsPolicy.Kind.SHUTDOWN && now.isBefore(retryAt.getOrDefault(key, Instant.MIN))) {
                    states.put(key, o.next().notAsked()); // the last try failed moments ago: ask again later
                } else if (!act(t, e)) {
                    states.put(key, o.next().notAsked());
                    retryAt.put(key, now.plus(RETRY));
                }
            }
        }
    }

    /**
     * Records an event and, for a shutdown request, starts the site shutdown. False when the request is not in effect
     * (no shutdown switching the hosts off runs or could start): it is asked again after {@link #RETRY}.
     */
    private boolean act(UpsTarget t, UpsPolicy.Event e) {
        String key = t.toString();
        String action = "ups." + e.kind().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        LOG.warn("UPS {}: {}", key, e.detail());
        switch (e.kind()) {
            case ON_BATTERY -> alarms.raise("ups-on-battery:" + key, "UPS " + key + " " + e.detail());
            case ONLINE -> alarms.clear("ups-on-battery:" + key);
            case UNREACHABLE -> alarms.raise("ups-unreachable:" + key, "UPS " + key + " " + e.detail());
            case REACHABLE -> alarms.clear("ups-unreachable:" + key);
            case BATTERY_LOW, SHUTDOWN -> {
            }
        }
        if (e.kind() != UpsPolicy.Kind.SHUTDOWN) {
            audit.record(new AuditLog.Entry(ACTOR, action, "ups", key, t.name(), null, null, e.detail(),
                    AuditLog.Outcome.SUCCESS, null));
            return true;
        }
        Boolean powersOff = site.runningPowersOff().orElse(null);
        if (powersOff != null) {
            audit.record(new AuditLog.Entry(ACTOR, "ups.shutdown", "ups", key, t.name(), null, null, e.detail()
                    + (powersOff ? "; a site shutdown already runs" : "; a site shutdown that leaves the hosts on runs;"
                    + " a shutdown that switches them off starts when it ended"), powersOff ? AuditLog.Outcome.SUCCESS
                    : AuditLog.Outcome.FAILURE, null));
            return powersOff;
        }
        try {
            var task = site.start(new SiteShutdownService.Request(vmTimeoutSeconds, true), "ups",
                    ACTOR.withReason("UPS " + key + ": " + e.detail()));
            audit.record(new AuditLog.Entry(ACTOR, "ups.shutdown", "ups", key, t.name(), null,
                    Map.of("task", task.id()), e.detail() + "; site shutdown started", AuditLog.Outcome.SUCCESS,
                    task.id()));
            return true;
        } catch (RuntimeException ex) {
            LOG.error("UPS {}: could not start the site shutdown: {}", key, ex.toString());
            audit.record(new AuditLog.Entry(ACTOR, "ups.shutdown", "ups", key, t.name(), null, null, e.detail()
                    + "; the site shutdown could not start (tried again in " + RETRY.toSeconds() + " s): "
                    + ex.getMessage(), AuditLog.Outcome.FAILURE, null));
            return false;
        }
    }

    /** Every UPS watched with its last reading (for {@code carevisor site status}). */
    public List<Map<String, Object>> status() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (UpsTarget t : targets) {
            String key = t.toString();
            UpsPolicy.State s = states.get(key);
            NutClient.Reading r = last.get(key);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("ups", key);
            m.put("power", s.power().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
            m.put("status", r == null ? null : String.join(" ", r.flags()));
            m.put("chargePercent", r == null ? null : r.chargePercent());
            m.put("runtimeSeconds", r == null ? null : r.runtimeSeconds());
            m.put("onBatterySince", s.onBatterySince());
            m.put("reachable", !s.unreachable());
            m.put("error", errors.get(key));
            m.put("shutdownStarted", s.shutdownAsked());
            out.add(m);
        }
        return out;
    }

    /** The settings, for the status view. */
    public Map<String, Object> settings() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("shutdownAfterOnBatterySeconds", settings.shutdownAfterOnBattery() == null ? null
                : settings.shutdownAfterOnBattery().toSeconds());
        m.put("vmTimeoutSeconds", vmTimeoutSeconds);
        return m;
    }
}
