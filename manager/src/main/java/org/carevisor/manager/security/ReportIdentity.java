package org.carevisor.manager.security;

import java.util.Map;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.protocol.AgentEndpoint;
import org.carevisor.protocol.HostAddress;
import org.carevisor.protocol.HostInventory;
import org.jdbi.v3.core.Jdbi;

/**
 * What a host may say about itself in a report, checked against what it is registered with, so that a host
 * cannot point the manager at another machine: its endpoint's address must stay the one it enrolled with (the
 * one in its certificate; the port may change), its migration address the registered one, and a new name must
 * not be another host's. A report that breaks one is refused ({@code 403 report-refused}); to move a host to
 * another address it is enrolled again with a join token for it. A host enrolled before migration addresses
 * were registered registers its migration address with its first report (checked like at enrollment, audited).
 * Thread-safe.
 */
public final class ReportIdentity {
    private final Jdbi jdbi;
    private final HostAddresses addresses;
    private final AuditLog audit;

    public ReportIdentity(Jdbi jdbi, HostAddresses addresses, AuditLog audit) {
        this.jdbi = jdbi;
        this.addresses = addresses;
        this.audit = audit;
    }

    /** Refuses the report's inventory when it contradicts the registration; {@code client}: the sender. */
    public void check(HostInventory inv, RegisteredHost host, String client) {
        HostAddress endpoint = AgentEndpoint.parse(inv.endpoint()).host(); // shape checked before
        String registered = HostAddresses.endpointHost(host.endpoint());
        if (registered != null && !registered.equals(endpoint.value())) {
            throw refused("host " + host.name() + " enrolled with address " + registered + " but reports endpoint "
                    + Clip.text(inv.endpoint(), 100) + "; a host keeps the address in its certificate (to move it"
                    + " to another address, enroll it again: carevisor host join-token create --host " + host.name()
                    + ")");
        }
        if (inv.migrationAddress() != null) {
            HostAddress migration = HostAddress.parse(inv.migrationAddress());
            if (host.migrationAddress() == null) {
                register(host, migration, client);
            } else if (!HostAddress.parse(host.migrationAddress()).equals(migration)) {
                throw refused("host " + host.name() + " is registered to receive live migrations at "
                        + host.migrationAddress() + " but reports " + migration + "; enroll it again to change it"
                        + " (carevisor host join-token create --host " + host.name() + ")");
            }
        }
        if (!inv.hostname().equals(host.name())) {
            var other = jdbi.withHandle(h -> h.createQuery("SELECT id FROM hosts WHERE name = :n AND id <> :id")
                    .bind("n", inv.hostname()).bind("id", host.id()).mapTo(String.class).findOne());
            if (other.isPresent()) {
                throw refused("host " + host.name() + " reports the name '" + inv.hostname() + "' of host "
                        + other.get() + "; give it a name of its own (--host-name)");
            }
            audit.record(new AuditLog.Entry(Actor.agent(host.name()), "host.rename", "host", host.id(),
                    inv.hostname(), Map.of("name", host.name()), Map.of("name", inv.hostname()),
                    "the host's agent reports a new name", AuditLog.Outcome.SUCCESS, null));
        }
    }

    private void register(RegisteredHost host, HostAddress migration, String client) {
        jdbi.useTransaction(h -> {
            addresses.check(h, "migrationAddress", migration, host.id(), client);
            h.createUpdate("UPDATE hosts SET migration_address = :m WHERE id = :id AND migration_address IS NULL")
                    .bind("m", migration.value()).bind("id", host.id()).execute();
            audit.record(h, new AuditLog.Entry(Actor.agent(host.name()), "host.migration-address", "host", host.id(),
                    host.name(), null, Map.of("migrationAddress", migration.value()), "registered from the first"
                    + " report of a host enrolled before migration addresses were registered",
                    AuditLog.Outcome.SUCCESS, null));
        });
    }

    private static ApiException refused(String detail) {
        return new ApiException(403, "report-refused", "Report refused", detail, null);
    }
}
