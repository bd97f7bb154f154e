package org.carevisor.agent.vm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import org.carevisor.agent.AgentException;
import org.carevisor.agent.storage.FileTrees;
import org.carevisor.pki.Pem;
import org.carevisor.pki.Tls;
import org.carevisor.protocol.HostAddress;
import org.carevisor.protocol.IncomingRequest;
import org.carevisor.qemu.QmpClient;
import org.carevisor.qemu.QmpException;

/**
 * Puts a live migration's stream under mutual TLS, with the host certificates the cluster's CA issued at
 * enrollment. The destination QEMU listens with this host's certificate and accepts only a client certificate of
 * the source host the manager named ({@code authz-simple}, {@code CN=host:<id>,O=Carevisor}); the source QEMU
 * presents its own host certificate and accepts only a server certificate of the CA carrying the name the manager
 * gave ({@code tls-hostname}: the destination's enrolled agent address). Guest memory, which holds patient data,
 * never crosses the network in clear, and a host that is not the named peer can neither send a guest in nor
 * receive one.
 *
 * <p>QEMU reads the credentials from a directory once, when the {@code tls-creds-x509} object is created; the
 * agent writes them into the VM's private runtime directory for that moment only and removes them right after.
 * Thread-safe (no state apart from the agent's certificate directory).
 */
public final class MigrationTls {
    static final String CREDS = "migration-tls";
    static final String AUTHZ = "migration-authz";
    private static final String DIR = "migration-tls";

    private final Path identityDir;

    /** @param identityDir the agent's certificate directory ({@code agent.key}, {@code agent.crt}, {@code ca.crt}) */
    public MigrationTls(Path identityDir) {
        this.identityDir = identityDir;
    }

    /** The identity QEMU's authz-simple compares with the client certificate's distinguished name. */
    static String peerIdentity(String hostId) {
        return "CN=host:" + hostId + ",O=Carevisor";
    }

    /** Refuses (400) a source host id that is missing or not of the form the manager assigns. */
    public static String checkSourceHost(String hostId) {
        if (hostId == null) {
            throw AgentException.badRequest("migration-peer-missing", "the incoming migration request names no"
                    + " sourceHostId: the destination accepts the migration stream only from the host the manager"
                    + " names (a manager older than this agent? upgrade the manager)");
        }
        if (!IncomingRequest.validHostId(hostId)) {
            throw AgentException.badRequest("migration-peer-invalid", "sourceHostId must be a lower-case UUID (a"
                    + " host id the manager assigned)");
        }
        return hostId;
    }

    /** Refuses (400) a destination name that is missing or not a plain address or DNS name. */
    public static String checkHostname(String name) {
        if (name == null) {
            throw AgentException.badRequest("migration-peer-missing", "the migration request names no tlsHostname:"
                    + " the source sends the stream only to a host certificate carrying the name the manager gives"
                    + " (a manager older than this agent? upgrade the manager)");
        }
        try {
            return HostAddress.parse(name).value();
        } catch (IllegalArgumentException e) {
            throw AgentException.badRequest("migration-peer-invalid", "tlsHostname " + e.getMessage());
        }
    }

    /**
     * Destination side: creates the server credentials and the check of the source's certificate in QEMU and
     * makes them the migration's ({@code migrate-set-parameters}), before {@code migrate-incoming}.
     */
    void serve(QmpClient client, Path vmDir, String sourceHostId) {
        String peer = peerIdentity(checkSourceHost(sourceHostId));
        credentials(client, vmDir, "server");
        replace(client, AUTHZ, Map.of("qom-type", "authz-simple", "id", AUTHZ, "identity", peer));
        client.execute("migrate-set-parameters", Map.of("tls-creds", CREDS, "tls-authz", AUTHZ));
    }

    /** Source side: creates the client credentials and names the destination, before {@code migrate}. */
    void connect(QmpClient client, Path vmDir, String tlsHostname) {
        String name = checkHostname(tlsHostname);
        credentials(client, vmDir, "client");
        client.execute("migrate-set-parameters", Map.of("tls-creds", CREDS, "tls-hostname", name));
    }

    private void credentials(QmpClient client, Path vmDir, String endpoint) {
        Path dir = vmDir.resolve(DIR);
        try {
            write(dir, endpoint);
            Map<String, Object> args = new LinkedHashMap<>();
            args.put("qom-type", "tls-creds-x509");
            args.put("id", CREDS);
            args.put("dir", dir.toAbsolutePath().toString());
            args.put("endpoint", endpoint);
            args.put("verify-peer", true);
            replace(client, CREDS, args);
        } catch (IOException e) {
            throw new AgentException(500, "migration-tls-failed", "cannot hand this host's certificate to QEMU for"
                    + " the migration stream (" + identityDir + " -> " + dir + "): " + e.getMessage(), e);
        } catch (QmpException e) {
            throw new AgentException(500, "migration-tls-failed", "QEMU refused this host's certificate for the"
                    + " migration stream: " + e.getMessage() + " (re-enroll the host if its certificate is damaged)",
                    e);
        } finally {
            remove(dir);
        }
    }

    private void write(Path dir, String endpoint) throws IOException {
        Tls.Identity id = Tls.load(identityDir, "agent");
        remove(dir);
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Pem.writePublic(dir.resolve("ca-cert.pem"), Pem.write(id.ca()));
        Pem.writePublic(dir.resolve(endpoint + "-cert.pem"), Pem.write(id.certificate()));
        Pem.writeSecret(dir.resolve(endpoint + "-key.pem"), Pem.writeForGnutls(id.key(),
                id.certificate().getPublicKey()));
    }

    private static void replace(QmpClient client, String id, Map<String, Object> args) {
        try {
            client.execute("object-del", Map.of("id", id)); // left from an earlier attempt on this QEMU
        } catch (QmpException e) {
            // there was none
        }
        client.execute("object-add", args);
    }

    private static void remove(Path dir) {
        try {
            FileTrees.delete(dir); // a file or link in its place is removed, never followed
        } catch (IOException e) {
            // stays private (0700) in the VM's directory and is replaced on the next migration
        }
    }
}
