package org.carevisor.manager.ha;

import org.carevisor.manager.ha.fence.FenceAgent;
import org.carevisor.manager.ha.fence.FenceTargets;
import org.carevisor.manager.ha.fence.IpmiFenceAgent;
import org.carevisor.manager.ha.fence.LabFenceAgent;
import org.carevisor.manager.ha.fence.RedfishFenceAgent;

/**
 * How a host is fenced.
 *
 * @param kind     {@code ipmi}, {@code redfish} or {@code lab}
 * @param address  the BMC's address (ipmi: host name or IP; redfish: https URL of the BMC)
 * @param username BMC user
 * @param secret   BMC password (never shown by the API)
 * @param target   redfish: the system id (e.g. {@code 1}); lab: the host's network namespace
 * @param caPem    redfish: the CA certificate(s) the BMC's certificate is verified against; null = the JDK's
 */
public record FenceConfig(String kind, String address, String username, String secret, String target, String caPem) {
    /**
     * The fence agent these settings describe, checked again (settings stored by an older version were not);
     * the lab agent only in lab mode. Throws {@link IllegalArgumentException} naming what is wrong.
     */
    public FenceAgent agent(boolean labMode) {
        return switch (kind) {
            case "ipmi" -> new IpmiFenceAgent(System.getProperty("carevisor.ipmitool"),
                    FenceTargets.ipmiAddress(address).value(), username, secret);
            case "redfish" -> new RedfishFenceAgent(FenceTargets.redfishUrl(address),
                    FenceTargets.redfishSystem(target), username, secret,
                    caPem == null ? null : org.carevisor.pki.Tls.trusting(caPem));
            case "lab" -> {
                if (!labMode) {
                    throw new IllegalArgumentException("the lab fence agent is configured, but the manager does not"
                            + " run in lab mode; configure an ipmi or redfish fence agent for this host");
                }
                yield new LabFenceAgent(FenceTargets.namespace(target));
            }
            default -> throw new IllegalArgumentException("unknown fence agent kind " + kind);
        };
    }

    /** What the API shows: everything but the secret. */
    public java.util.Map<String, Object> view() {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("kind", kind);
        m.put("address", address);
        m.put("username", username);
        m.put("secretSet", secret != null && !secret.isEmpty());
        m.put("target", target);
        m.put("caPem", caPem);
        return m;
    }
}
