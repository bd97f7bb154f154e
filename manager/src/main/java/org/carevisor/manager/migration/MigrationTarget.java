package org.carevisor.manager.migration;

import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.protocol.AgentEndpoint;
import org.carevisor.protocol.HostAddress;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.IncomingResponse;
import org.carevisor.protocol.MigrationUri;

/**
 * Builds the URI the source QEMU sends a live migration to. The manager never passes on what the destination
 * answers: it takes the address the destination host is registered with (from the database, set at
 * enrollment) and only the port from the answer, which must be {@code tcp:<that address>:<port>} with the port
 * in the destination's migration range. Anything else (exec:, file:, unix:, another address, options) is
 * refused ({@code 502 migration-uri-refused}) before the source is told anything. Thread-safe (stateless).
 */
final class MigrationTarget {
    private final HostRepository hosts;

    MigrationTarget(HostRepository hosts) {
        this.hosts = hosts;
    }

    /** The source's URI for a migration to {@code dest}, whose agent answered {@code in}. */
    String sourceUri(String destHostId, String destName, IncomingResponse in) {
        HostRecord dest = hosts.find(destHostId).orElseThrow(() -> refused(destName, "the host is gone"));
        String registered = hosts.migrationAddress(destHostId).orElse(null);
        if (registered == null) {
            throw refused(destName, "the host has no registered migration address yet (it registers it with its"
                    + " next report)");
        }
        HostAddress address = HostAddress.parse(registered);
        MigrationUri answered;
        try {
            answered = MigrationUri.parse(in == null ? null : in.uri());
        } catch (IllegalArgumentException e) {
            throw refused(destName, "its answer is not a migration address the manager accepts: " + e.getMessage());
        }
        if (!answered.host().equals(address)) {
            throw refused(destName, "it answered " + answered + ", but host " + dest.name()
                    + " receives live migrations at " + address + " (registered at its enrollment)");
        }
        HostInventory inv = dest.inventory();
        int from = inv.migrationPortFrom() == 0 ? MigrationUri.MIN_PORT : inv.migrationPortFrom();
        int to = inv.migrationPortTo() == 0 ? MigrationUri.MAX_PORT : inv.migrationPortTo();
        if (answered.port() < from || answered.port() > to) {
            throw refused(destName, "port " + answered.port() + " is outside its migration port range " + from + "-"
                    + to);
        }
        return new MigrationUri(address, answered.port()).toString();
    }

    /**
     * The name the destination's host certificate carries: the address of the agent endpoint it was enrolled with
     * (the manager put only that into its certificate). The source QEMU checks the migration stream's TLS peer
     * against it, so the stream reaches only a host certificate of this cluster issued for that address.
     */
    String tlsHostname(String destHostId, String destName) {
        HostRecord dest = hosts.find(destHostId).orElseThrow(() -> refused(destName, "the host is gone"));
        try {
            return AgentEndpoint.parse(dest.endpoint()).host().value();
        } catch (IllegalArgumentException e) {
            throw refused(destName, "its registered agent endpoint " + dest.endpoint() + " " + e.getMessage());
        }
    }

    private static ApiException refused(String dest, String why) {
        return new ApiException(502, "migration-uri-refused", "Migration refused", "the destination " + dest
                + " answered with a migration address that is refused: " + why, null);
    }
}
