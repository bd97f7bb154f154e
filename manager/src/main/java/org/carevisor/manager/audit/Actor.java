package org.carevisor.manager.audit;

import java.time.Instant;

/**
 * Who caused a change: a person through the API or CLI (with their user id, client address, the reason they
 * gave and, for critical actions, their electronic signature), or an automatic process (reconciler,
 * balancer, agent, guest). {@code address} is the client address for people, null for processes.
 */
public record Actor(String name, String address, String userId, String reason, Signature signature) {
    /** An electronic signature: who signed (printed name), when, and what the signature means. */
    public record Signature(String userId, String printedName, String meaning, Instant signedAt) {
    }

    public Actor(String name, String address) {
        this(name, address, null, null, null);
    }

    public static Actor user(String name, String address) {
        return new Actor(name, address);
    }

    public static Actor system(String process) {
        return new Actor("system:" + process, null);
    }

    public static Actor agent(String hostName) {
        return new Actor("agent:" + hostName, null);
    }

    public static Actor guest(String vmName) {
        return new Actor("guest:" + vmName, null);
    }

    public Actor withReason(String r) {
        return new Actor(name, address, userId, r, signature);
    }

    public Actor withSignature(Signature s) {
        return new Actor(name, address, userId, reason, s);
    }
}
