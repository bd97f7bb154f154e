package org.carevisor.manager.ha;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import org.carevisor.protocol.LeaseSeen;
import org.carevisor.protocol.SignedLease;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes the storage leases of one heartbeat report into the {@link HaEngine}, believing only what each lease's
 * owner signed: a lease counts only when its text verifies with the certificate of the host it names ({@link
 * SignedLease#verify}), and then only what that text says counts - its counter and its released VMs. A lease of a
 * host the manager does not know never reaches the engine. A released VM counts only when the run the lease names
 * is the run the manager last saw of that VM on that host, so a release from an old lease can never stand for a
 * later start. The owner's own lease in its own report is its word on its counter ({@link HaEngine#ownLease});
 * others' reports are observations bounded by it ({@link HaEngine#lease}).
 *
 * <p>Every lease that counts for nothing is reported to {@link Refusals} once per episode: per reporting host,
 * named host and reason, again only after {@link #QUIET} without one. No input throws out of {@link #accept}: a
 * lease whose handling fails is named and skipped. Verifications are cached by text. Not thread-safe (the HA service
 * calls it under its lock).
 */
public final class LeaseIntake {
    private static final Logger LOG = LoggerFactory.getLogger(LeaseIntake.class);
    /** An episode of refusals ends after this long without one of its kind. */
    static final Duration QUIET = Duration.ofSeconds(60);
    static final int MAX_EPISODES = 10_000;
    static final int CACHE = 4096;

    /** The current certificate key of a host. */
    @FunctionalInterface
    public interface Keys {
        Optional<HostKeys.HostKey> of(String hostId);

        /** The same, read afresh (a host enrolled again a moment ago has a new key). */
        default Optional<HostKeys.HostKey> fresh(String hostId) {
            return of(hostId);
        }
    }

    /** When the run of a VM that the manager last saw on a host started (epoch ms); empty when not seen there. */
    @FunctionalInterface
    public interface Runs {
        OptionalLong run(String vmId, String hostId);
    }

    /**
     * A lease that counts for nothing.
     *
     * @param reporter the host whose report carried it
     * @param named    the host the lease names (null: a host the manager does not know)
     * @param code     why: {@code lease-unknown-host}, {@code lease-no-certificate}, {@code lease-unsigned},
     *                 {@code lease-malformed}, {@code lease-signature-invalid}, {@code lease-host-mismatch},
     *                 {@code lease-counter-jump}, {@code lease-failed}
     * @param detail   what is wrong, for an operator
     */
    public record Refusal(String reporter, String named, String code, String detail) {
    }

    /** Where refusals go (the audit trail; the simulation's log). */
    @FunctionalInterface
    public interface Refusals {
        void refused(Refusal refusal);
    }

    private record Checked(SignedLease lease, SignedLease.Invalid invalid) {
    }

    private final Keys keys;
    private final Runs runs;
    private final Refusals refusals;
    private final Map<String, Instant> episodes = new LinkedHashMap<>();
    private final Map<String, Checked> cache = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Checked> eldest) {
            return size() > CACHE;
        }
    };

    public LeaseIntake(Keys keys, Runs runs, Refusals refusals) {
        this.keys = keys;
        this.runs = runs;
        this.refusals = refusals;
    }

    /** Takes the leases {@code reporter} reported into {@code engine}. */
    public void accept(String reporter, List<LeaseSeen> leases, HaEngine engine, Instant now) {
        for (LeaseSeen l : leases) {
            if (l == null || l.hostId() == null) {
                continue;
            }
            try {
                one(reporter, l, engine, now);
            } catch (RuntimeException e) {
                LOG.error("HA: the lease of host {} reported by host {} could not be handled", l.hostId(), reporter, e);
                refuse(reporter, engine.knows(l.hostId()) ? l.hostId() : null, "lease-failed",
                        "handling it failed (" + e + "); it counts for nothing", now);
            }
        }
    }

    private void one(String reporter, LeaseSeen l, HaEngine engine, Instant now) {
        String named = l.hostId();
        if (!engine.knows(named)) {
            refuse(reporter, null, "lease-unknown-host", "a lease of host '" + clip(named) + "', which the manager does"
                    + " not know (never enrolled, or removed): ignored", now);
            return;
        }
        Optional<HostKeys.HostKey> key = keys.of(named);
        if (key.isEmpty()) {
            refuse(reporter, named, "lease-no-certificate", "the manager holds no certificate of this host yet (enrolled"
                    + " before certificates were kept, and not reported since): its lease cannot be verified and counts"
                    + " for nothing", now);
            return;
        }
        Checked c = check(key.get(), l.text());
        if (c.invalid() != null && c.invalid().code().equals("lease-signature-invalid")) {
            Optional<HostKeys.HostKey> again = keys.fresh(named);
            if (again.isPresent() && !again.get().serial().equals(key.get().serial())) {
                c = check(again.get(), l.text());
            }
        }
        if (c.invalid() != null) {
            refuse(reporter, named, c.invalid().code(), c.invalid().getMessage() + "; it counts for nothing", now);
            return;
        }
        SignedLease lease = c.lease();
        if (!lease.hostId().equals(named)) {
            refuse(reporter, named, "lease-host-mismatch", "the signed lease names host '" + clip(lease.hostId())
                    + "': counts for nothing", now);
            return;
        }
        Set<String> released = new LinkedHashSet<>();
        for (SignedLease.Released r : lease.released()) {
            OptionalLong run = runs.run(r.vmId(), named);
            if (run.isPresent() && run.getAsLong() == r.run()) {
                released.add(r.vmId());
            } else if (LOG.isDebugEnabled()) {
                LOG.debug("HA: host {} lists VM {} run {} as released, which is not the run last seen there ({}):"
                        + " not taken as released", named, r.vmId(), r.run(), run);
            }
        }
        boolean own = named.equals(reporter);
        HaEngine.LeaseUpdate u = own ? engine.ownLease(named, lease.counter(), released, now)
                : engine.lease(named, lease.counter(), released, now);
        if (u == HaEngine.LeaseUpdate.TOO_FAR) {
            HaEngine.HostState h = engine.hosts().get(named);
            refuse(reporter, named, "lease-counter-jump", "counter " + lease.counter() + " is further ahead of the"
                    + " host's own last report (counter " + h.anchorCounter + ") than renewals can have gone since: not"
                    + " counted", now);
        }
    }

    private Checked check(HostKeys.HostKey key, String text) {
        String id = key.hostId() + "|" + key.serial() + "|" + (text == null ? "-" : sha256(text));
        Checked c = cache.get(id);
        if (c == null) {
            try {
                c = new Checked(SignedLease.verify(text, key.key()), null);
            } catch (SignedLease.Invalid e) {
                c = new Checked(null, e);
            }
            cache.put(id, c);
        }
        return c;
    }

    /** Reports a refusal unless one of its episode was reported within {@link #QUIET}. */
    private void refuse(String reporter, String named, String code, String detail, Instant now) {
        String key = reporter + "|" + (named == null ? "*" : named) + "|" + code;
        Instant last = episodes.remove(key);
        episodes.put(key, now);
        if (episodes.size() > MAX_EPISODES) {
            forgetOld(now);
        }
        if (last != null && last.plus(QUIET).isAfter(now)) {
            return;
        }
        refusals.refused(new Refusal(reporter, named, code, detail));
    }

    private void forgetOld(Instant now) {
        for (Iterator<Instant> it = episodes.values().iterator(); it.hasNext(); ) {
            if (!it.next().plus(QUIET).isAfter(now)) {
                it.remove();
            }
        }
        if (episodes.size() > MAX_EPISODES) {
            episodes.clear(); // a flood of distinct kinds: start over rather than grow without bound
        }
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String clip(String s) {
        return s.length() <= 64 ? s : s.substring(0, 64) + "...";
    }
}
