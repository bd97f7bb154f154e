package org.carevisor.protocol;

import java.util.List;

/**
 * An agent asks to join: it proves it holds a one-time join token and sends a certificate request for the
 * key it generated (the key never leaves the host). The manager decides the host's id and the certificate's
 * names: a new host gets a new id; an existing host is enrolled again only with a token issued for it.
 *
 * @param token            the join token
 * @param hostId           the id this agent had before (its {@code host-id} file), null for a new host; the
 *                         manager assigns the id and answers it in {@link EnrollResponse#hostId()}
 * @param hostname         the host's name
 * @param endpoint         where the agent accepts commands, {@code https://<address>:<port>}; its address is the
 *                         only name in the issued certificate
 * @param names            optional; every entry must be the endpoint's address (the certificate carries no other)
 * @param csrPem           PKCS#10 certificate request in PEM (EC P-256)
 * @param migrationAddress address on which the host receives live migrations (null: the endpoint's address);
 *                         registered with the host, a report naming another one is refused
 */
public record EnrollRequest(String token, String hostId, String hostname, String endpoint, List<String> names,
                            String csrPem, String migrationAddress) {
    public EnrollRequest {
        names = names == null ? List.of() : List.copyOf(names);
    }
}
