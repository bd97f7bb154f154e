package org.carevisor.manager.audit;

/**
 * Who caused a change: a person through the API or CLI, or an automatic process (reconciler, agent,
 * guest). {@code address} is the client address for people, null for processes.
 */
public record Actor(String name, String address) {
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
}
