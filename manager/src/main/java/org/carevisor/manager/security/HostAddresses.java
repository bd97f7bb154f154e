package org.carevisor.manager.security;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Set;
import org.carevisor.manager.api.ApiException;
import org.carevisor.protocol.AgentEndpoint;
import org.carevisor.protocol.HostAddress;
import org.jdbi.v3.core.Handle;

/**
 * Which addresses a host may be known by (its endpoint's address, which goes into its certificate, and its
 * migration address, where the manager sends live-migration streams):
 * <ul>
 * <li>not an address or name of the manager (in the manager's certificate): a host certificate for it would let
 * the host pose as the manager to other agents;
 * <li>not an address another host is known by: the host could be given that host's commands or streams, or pose
 * as it;
 * <li>a loopback address only from an agent that enrolls over loopback, i.e. on the manager's own machine (the
 * single-machine lab). The loopback addresses every process shares (127.0.0.1, ::1, {@code localhost}) are
 * exempt from the two checks above: the manager and all agents of that machine use them. Other 127.x addresses
 * are checked like any address.
 * </ul>
 * Thread-safe (stateless apart from the manager's names).
 */
public final class HostAddresses {
    private final Set<String> managerNames;

    public HostAddresses(Set<String> managerNames) {
        this.managerNames = Set.copyOf(managerNames);
    }

    /**
     * Refuses {@code address} for host {@code hostId} (null: a new host) when it may not be used, naming
     * {@code field} and why; {@code clientAddress} is where the enrollment came from (null: not an enrollment).
     */
    public void check(Handle h, String field, HostAddress address, String hostId, String clientAddress) {
        if (address.loopback()) {
            if (clientAddress == null || !loopback(clientAddress)) {
                throw ApiException.invalid(field, "'" + address + "' is a loopback address: it names the manager's"
                        + " machine; only an agent on that machine may use it (give the address the manager reaches"
                        + " this host at, e.g. --advertise 10.0.0.11)");
            }
            if (address.sharedLoopback()) {
                return;
            }
        }
        if (managerNames.contains(address.value())) {
            throw new ApiException(409, "address-in-use", "Address in use", field + " '" + address + "' is an address"
                    + " of the manager (its certificate names it); a host may not be known by it", null);
        }
        for (var row : h.createQuery("SELECT id, name, endpoint, migration_address FROM hosts")
                .map((rs, c) -> new String[] {rs.getString("id"), rs.getString("name"), rs.getString("endpoint"),
                        rs.getString("migration_address")}).list()) {
            if (row[0].equals(hostId)) {
                continue;
            }
            if (address.value().equals(endpointHost(row[2])) || address.value().equals(canonical(row[3]))) {
                throw new ApiException(409, "address-in-use", "Address in use", field + " '" + address
                        + "' is already the address of host " + row[1] + " (" + row[0] + "); each host needs its own",
                        null);
            }
        }
    }

    /** The canonical address of a stored endpoint, or null when it is not one (a row from an older version). */
    static String endpointHost(String endpoint) {
        try {
            return AgentEndpoint.parse(endpoint).host().value();
        } catch (IllegalArgumentException | NullPointerException e) {
            return null;
        }
    }

    private static String canonical(String address) {
        try {
            return address == null ? null : HostAddress.parse(address).value();
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static boolean loopback(String clientAddress) {
        try {
            return InetAddress.getByName(clientAddress).isLoopbackAddress(); // a literal from the socket: no lookup
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
