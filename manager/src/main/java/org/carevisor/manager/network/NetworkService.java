package org.carevisor.manager.network;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.api.ApiException.FieldError;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.db.Sql;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/** VM networks and their address pools. Thread-safe; addresses are allocated inside the VM's transaction. */
public final class NetworkService {
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,31}");
    private static final Pattern BRIDGE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,14}");

    /** A new bridged network. */
    public record Create(String name, String kind, String bridge, String cidr, String gateway, String poolFrom,
                         String poolTo, String description) {
    }

    private final Jdbi jdbi;
    private final AuditLog audit;

    public NetworkService(Jdbi jdbi, AuditLog audit) {
        this.jdbi = jdbi;
        this.audit = audit;
    }

    public List<NetworkRecord> list() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM networks ORDER BY name").map((rs, c) -> map(rs)).list());
    }

    public Optional<NetworkRecord> find(String nameOrId) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM networks WHERE name = :n OR id = :n")
                .bind("n", nameOrId).map((rs, c) -> map(rs)).findFirst());
    }

    public NetworkRecord get(String nameOrId) {
        return find(nameOrId).orElseThrow(() -> ApiException.notFound("network", nameOrId));
    }

    public NetworkRecord create(Create c, Actor actor) {
        List<FieldError> errors = new ArrayList<>();
        if (c.name() == null || !NAME.matcher(c.name()).matches()) {
            errors.add(new FieldError("name", "must be 1-32 lower-case letters, digits, '-' or '_'"));
        }
        if (!"bridge".equals(c.kind())) {
            errors.add(new FieldError("kind", "must be 'bridge' (the 'user' network exists already)"));
        }
        if (c.bridge() == null || !BRIDGE.matcher(c.bridge()).matches()) {
            errors.add(new FieldError("bridge", "must name the host bridge (1-15 letters, digits, '.', '_', '-')"));
        }
        if (c.description() != null && c.description().length() > 1000) {
            errors.add(new FieldError("description", "must be at most 1000 characters"));
        }
        Ipv4.Block block = null;
        if (c.cidr() != null) {
            block = Ipv4.block(c.cidr());
            if (block == null) {
                errors.add(new FieldError("cidr", "must be a network address with prefix length 8-30, e.g. 10.77.0.0/24"));
            }
        }
        if (block != null) {
            long gw = c.gateway() == null ? -1 : Ipv4.parse(c.gateway());
            if (c.gateway() != null && (gw < 0 || !usable(block, gw))) {
                errors.add(new FieldError("gateway", "must be a host address inside " + c.cidr()));
            }
            long from = Ipv4.parse(c.poolFrom());
            long to = Ipv4.parse(c.poolTo());
            if (c.poolFrom() == null || c.poolTo() == null) {
                errors.add(new FieldError("poolFrom", "a network with a cidr needs poolFrom and poolTo: the guest"
                        + " addresses Carevisor hands out"));
            } else if (from < 0 || to < 0 || !usable(block, from) || !usable(block, to) || from > to) {
                errors.add(new FieldError("poolFrom", "poolFrom and poolTo must be host addresses inside " + c.cidr()
                        + " with poolFrom <= poolTo"));
            } else if (gw >= from && gw <= to) {
                errors.add(new FieldError("gateway", "must not be inside the pool " + c.poolFrom() + "-" + c.poolTo()));
            }
        } else if (c.cidr() == null && (c.gateway() != null || c.poolFrom() != null || c.poolTo() != null)) {
            errors.add(new FieldError("cidr", "is required with gateway or a pool"));
        }
        if (!errors.isEmpty()) {
            throw ApiException.invalid(errors);
        }
        if (find(c.name()).isPresent()) {
            throw ApiException.conflict("name-taken", "name", "a network named '" + c.name() + "' already exists");
        }
        NetworkRecord n = new NetworkRecord(UUID.randomUUID().toString(), c.name(), "bridge", c.bridge(), c.cidr(),
                c.gateway(), c.poolFrom(), c.poolTo(), c.description(), Instant.now());
        jdbi.useTransaction(h -> {
            h.createUpdate("""
                    INSERT INTO networks (id, name, kind, bridge, cidr, gateway, pool_from, pool_to, description, created_at)
                    VALUES (:id, :name, :kind, :bridge, :cidr, :gw, :from, :to, :description, :at)""")
                    .bind("id", n.id()).bind("name", n.name()).bind("kind", n.kind()).bind("bridge", n.bridge())
                    .bind("cidr", n.cidr()).bind("gw", n.gateway()).bind("from", n.poolFrom()).bind("to", n.poolTo())
                    .bind("description", n.description()).bind("at", Sql.ts(n.createdAt())).execute();
            audit.record(h, new AuditLog.Entry(actor, "network.create", "network", n.id(), n.name(), null, n, null,
                    AuditLog.Outcome.SUCCESS, null));
        });
        return n;
    }

    /** Deletes a network no NIC uses. */
    public void delete(String ref, Actor actor) {
        NetworkRecord n = get(ref);
        if (n.name().equals(NetworkRecord.USER)) {
            throw ApiException.conflict("network-builtin", "the 'user' network is built in and cannot be deleted");
        }
        List<String> users = jdbi.withHandle(h -> h.createQuery("""
                SELECT DISTINCT v.name FROM vm_nics n JOIN vms v ON v.id = n.vm_id WHERE n.network = :n ORDER BY v.name""")
                .bind("n", n.name()).mapTo(String.class).list());
        if (!users.isEmpty()) {
            throw ApiException.conflict("network-in-use", "network '" + n.name() + "' is used by VMs "
                    + String.join(", ", users) + "; delete them or change their NICs first");
        }
        jdbi.useTransaction(h -> {
            h.createUpdate("DELETE FROM networks WHERE id = :id").bind("id", n.id()).execute();
            audit.record(h, new AuditLog.Entry(actor, "network.delete", "network", n.id(), n.name(), n, null, null,
                    AuditLog.Outcome.SUCCESS, null));
        });
    }

    /**
     * The lowest free address of the network's pool, inside the caller's transaction ({@code taken}: addresses
     * already given out in the same transaction). Null for networks without a pool; 409 when the pool is full.
     */
    public String allocate(Handle h, NetworkRecord n, Set<String> taken) {
        if (n.cidr() == null || n.poolFrom() == null) {
            return null;
        }
        Set<String> used = new HashSet<>(h.createQuery("SELECT ip FROM vm_nics WHERE network = :n AND ip IS NOT NULL")
                .bind("n", n.name()).mapTo(String.class).list());
        used.addAll(taken);
        for (long a = Ipv4.parse(n.poolFrom()); a <= Ipv4.parse(n.poolTo()); a++) {
            String ip = Ipv4.format(a);
            if (!used.contains(ip)) {
                return ip;
            }
        }
        throw ApiException.conflict("network-pool-exhausted", "every address of network '" + n.name() + "' ("
                + n.poolFrom() + "-" + n.poolTo() + ") is in use");
    }

    /** How many pool addresses are used and available. */
    public Map<String, Object> usage(NetworkRecord n) {
        if (n.poolFrom() == null) {
            return Map.of();
        }
        int used = jdbi.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM vm_nics WHERE network = :n AND ip IS NOT NULL")
                .bind("n", n.name()).mapTo(Integer.class).one());
        long size = Ipv4.parse(n.poolTo()) - Ipv4.parse(n.poolFrom()) + 1;
        return Map.of("addressesUsed", used, "addressesTotal", size);
    }

    private static boolean usable(Ipv4.Block b, long address) {
        return b.contains(address) && address != b.network() && address != b.broadcast();
    }

    private static NetworkRecord map(java.sql.ResultSet rs) throws java.sql.SQLException {
        return new NetworkRecord(rs.getString("id"), rs.getString("name"), rs.getString("kind"), rs.getString("bridge"),
                rs.getString("cidr"), rs.getString("gateway"), rs.getString("pool_from"), rs.getString("pool_to"),
                rs.getString("description"), Sql.instant(rs, "created_at"));
    }
}
