package org.carevisor.manager.auth;

import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rate limits on password attempts - logins, re-entered signature passwords and password changes alike - per
 * client address and per user name ({@link SecuritySettings#failedLoginsPerAddressPerMinute},
 * {@link SecuritySettings#failedLoginsPerUserPerMinute}). Only failed attempts count (an attempt takes a token
 * and a right password gives it back). A refused attempt gets 429 {@code too-many-attempts} with Retry-After;
 * the first refusal of an episode is audited ({@code auth.rate-limited}), the rest are not, so an attack cannot
 * flood the audit trail. A user name that does not exist is limited exactly like one that does. Thread-safe.
 */
public final class LoginThrottle {
    private static final Logger LOG = LoggerFactory.getLogger(LoginThrottle.class);
    private static final int MAX_KEYS = 10_000;

    /** An admitted attempt: call {@link #succeeded} when the password was right. */
    public final class Ticket {
        private final String address;
        private final String user;
        private boolean done;

        private Ticket(String address, String user) {
            this.address = address;
            this.user = user;
        }

        /** The password was right: the attempt does not count. */
        public void succeeded() {
            if (!done) {
                done = true;
                SecuritySettings s = settings.get();
                byAddress.giveBack(address, s.failedLoginsPerAddressPerMinute());
                byUser.giveBack(user, s.failedLoginsPerUserPerMinute());
            }
        }
    }

    private final AuditLog audit;
    private final Supplier<SecuritySettings> settings;
    private final AttemptLimiter byAddress;
    private final AttemptLimiter byUser;

    public LoginThrottle(AuditLog audit, Supplier<SecuritySettings> settings, LongSupplier nanos) {
        this.audit = audit;
        this.settings = settings;
        this.byAddress = new AttemptLimiter(MAX_KEYS, nanos);
        this.byUser = new AttemptLimiter(MAX_KEYS, nanos);
    }

    /**
     * Admits one password attempt of {@code username} from {@code address} for {@code action} (auth.login,
     * signature, user.password.change), or refuses it: 429 {@code too-many-attempts} with Retry-After.
     */
    public Ticket admit(String address, String username, String action) {
        SecuritySettings s = settings.get();
        String a = address == null ? "unknown" : address;
        String u = userKey(username);
        Optional<AttemptLimiter.Refusal> r = byAddress.take(a, s.failedLoginsPerAddressPerMinute());
        if (r.isPresent()) {
            throw refuse(r.get(), "address", a, username, a, action, s.failedLoginsPerAddressPerMinute());
        }
        r = byUser.take(u, s.failedLoginsPerUserPerMinute());
        if (r.isPresent()) {
            byAddress.giveBack(a, s.failedLoginsPerAddressPerMinute());
            throw refuse(r.get(), "user", u, username, a, action, s.failedLoginsPerUserPerMinute());
        }
        return new Ticket(a, u);
    }

    /** Forgets quiet keys and logs the episodes that ended (run periodically). */
    public void sweep() {
        SecuritySettings s = settings.get();
        for (AttemptLimiter.Episode e : byAddress.sweep(s.failedLoginsPerAddressPerMinute())) {
            LOG.info("password attempts from address {} are admitted again ({} refused in the episode)", e.key(),
                    e.refused());
        }
        for (AttemptLimiter.Episode e : byUser.sweep(s.failedLoginsPerUserPerMinute())) {
            LOG.info("password attempts for user name {} are admitted again ({} refused in the episode)", e.key(),
                    e.refused());
        }
    }

    /** User names are compared case-insensitively and cut to 64 characters (no account has a longer one). */
    static String userKey(String username) {
        String u = username == null ? "" : username.strip().toLowerCase(Locale.ROOT);
        return u.length() > 64 ? u.substring(0, 64) : u;
    }

    private ApiException refuse(AttemptLimiter.Refusal r, String kind, String key, String username, String address,
                                String action, int perMinute) {
        String what = kind.equals("address") ? "from address " + address : "for user name '" + key + "'";
        if (r.episodeStarted()) {
            LOG.warn("too many failed password attempts {}: refusing further attempts for a while ({}, limit {} per"
                    + " minute)", what, action, perMinute);
            try {
                audit.record(new AuditLog.Entry(new Actor(username == null ? "anonymous" : userKey(username), address),
                        "auth.rate-limited", kind, null, r.key(), null,
                        Map.of("limitPerMinute", perMinute, "action", action),
                        "more than " + perMinute + " failed password attempts in a minute " + what
                                + "; further attempts are refused until the limit allows them again (recorded once"
                                + " per episode)", Outcome.REFUSED, null));
            } catch (RuntimeException e) {
                LOG.warn("could not audit the rate limit {}: {}", what, e.toString());
            }
        }
        return new ApiException(429, "too-many-attempts", "Too many attempts", "too many failed password attempts "
                + what + "; try again in " + r.retryAfterSeconds() + " s", null).retryAfter(r.retryAfterSeconds());
    }
}
