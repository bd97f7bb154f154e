package org.carevisor.manager.auth;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.carevisor.manager.api.ApiException;

/**
 * Security settings, changed through the API by a user administrator (audited with old and new value).
 *
 * @param sessionIdleMinutes      automatic logoff after this long without a request (1-480)
 * @param sessionMaxHours         a login session ends after this long regardless (1-72)
 * @param lockoutThreshold        failed logins (or signatures) in a row that lock an account (1-20)
 * @param lockoutMinutes          how long a locked account stays locked; 0: until a user administrator unlocks it
 * @param passwordMinLength       shortest password accepted (8-128)
 * @param apiTokenMaxDays         longest validity of an API token (1-730)
 * @param reasonRequiredFor       object classes whose changes need a reason: {@link #REASON_CLASSES}
 * @param signatureRequiredFor    actions that need an electronic signature: {@link #SIGNATURE_ACTIONS}
 * @param checkpointSeconds       how often the audit chain head is signed (5-3600)
 * @param failedLoginsPerAddressPerMinute failed password attempts (logins, signatures, password changes) one
 *                                client address may make in a burst and then per minute (1-10000)
 * @param failedLoginsPerUserPerMinute    the same per user name, whether the account exists or not (1-1000)
 */
public record SecuritySettings(Integer sessionIdleMinutes, Integer sessionMaxHours, Integer lockoutThreshold,
                               Integer lockoutMinutes, Integer passwordMinLength, Integer apiTokenMaxDays,
                               List<String> reasonRequiredFor, List<String> signatureRequiredFor,
                               Integer checkpointSeconds, Integer failedLoginsPerAddressPerMinute,
                               Integer failedLoginsPerUserPerMinute) {
    /** Object classes a reason can be required for. */
    public static final Set<String> REASON_CLASSES = Set.of("vm.gxp", "vm", "template.qualified", "template", "host",
            "cluster", "user");
    /** Actions a signature can be required for ({@code .gxp}: only for VMs marked GxP). */
    public static final Set<String> SIGNATURE_ACTIONS = Set.of("template.qualify", "template.retire",
            "template.delete", "vm.delete", "vm.delete.gxp", "vm.archive", "vm.archive.gxp", "audit.review", "site.shutdown");
    /** Meanings a signature can have (21 CFR 11.50(a)(3)). */
    public static final List<String> MEANINGS = List.of("authored", "reviewed", "approved", "responsible");

    public static SecuritySettings defaults() {
        return new SecuritySettings(15, 12, 5, 30, 12, 365, List.of("template.qualified", "vm.gxp"),
                List.of("template.qualify", "vm.delete.gxp", "vm.archive.gxp", "audit.review"), 60, 30, 10);
    }

    /** This with the non-null fields of {@code patch}, validated (400 naming every bad field). */
    public SecuritySettings merge(SecuritySettings patch) {
        SecuritySettings s = new SecuritySettings(
                or(patch.sessionIdleMinutes, sessionIdleMinutes), or(patch.sessionMaxHours, sessionMaxHours),
                or(patch.lockoutThreshold, lockoutThreshold), or(patch.lockoutMinutes, lockoutMinutes),
                or(patch.passwordMinLength, passwordMinLength), or(patch.apiTokenMaxDays, apiTokenMaxDays),
                patch.reasonRequiredFor == null ? reasonRequiredFor : List.copyOf(patch.reasonRequiredFor),
                patch.signatureRequiredFor == null ? signatureRequiredFor : List.copyOf(patch.signatureRequiredFor),
                or(patch.checkpointSeconds, checkpointSeconds),
                or(patch.failedLoginsPerAddressPerMinute, failedLoginsPerAddressPerMinute),
                or(patch.failedLoginsPerUserPerMinute, failedLoginsPerUserPerMinute));
        s.validate();
        return s;
    }

    void validate() {
        List<ApiException.FieldError> errors = new ArrayList<>();
        range(errors, "sessionIdleMinutes", sessionIdleMinutes, 1, 480);
        range(errors, "sessionMaxHours", sessionMaxHours, 1, 72);
        range(errors, "lockoutThreshold", lockoutThreshold, 1, 20);
        range(errors, "lockoutMinutes", lockoutMinutes, 0, 10080);
        range(errors, "passwordMinLength", passwordMinLength, 8, 128);
        range(errors, "apiTokenMaxDays", apiTokenMaxDays, 1, 730);
        range(errors, "checkpointSeconds", checkpointSeconds, 5, 3600);
        range(errors, "failedLoginsPerAddressPerMinute", failedLoginsPerAddressPerMinute, 1, 10_000);
        range(errors, "failedLoginsPerUserPerMinute", failedLoginsPerUserPerMinute, 1, 1000);
        for (String c : reasonRequiredFor) {
            if (!REASON_CLASSES.contains(c)) {
                errors.add(new ApiException.FieldError("reasonRequiredFor", "unknown object class '" + c + "'; known: "
                        + String.join(", ", new java.util.TreeSet<>(REASON_CLASSES))));
            }
        }
        for (String a : signatureRequiredFor) {
            if (!SIGNATURE_ACTIONS.contains(a)) {
                errors.add(new ApiException.FieldError("signatureRequiredFor", "unknown action '" + a + "'; known: "
                        + String.join(", ", new java.util.TreeSet<>(SIGNATURE_ACTIONS))));
            }
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
    }

    private static void range(List<ApiException.FieldError> errors, String field, int v, int min, int max) {
        if (v < min || v > max) {
            errors.add(new ApiException.FieldError(field, "must be between " + min + " and " + max + ", not " + v));
        }
    }

    private static Integer or(Integer a, Integer b) {
        return a != null ? a : b;
    }
}
