package org.carevisor.protocol;

import java.util.List;

/**
 * An agent asks to join: it proves it holds a one-time join token and sends a certificate request for the
 * key it generated (the key never leaves the host).
 *
 * @param token    the join token
 * @param hostId   the host's id (created by the agent on first start)
 * @param hostname the host's name
 * @param endpoint where the agent accepts commands, e.g. {@code https://10.0.0.11:7701}
 * @param names    addresses and DNS names the agent is reached at (for its certificate)
 * @param csrPem   PKCS#10 certificate request in PEM
 */
public record EnrollRequest(String token, String hostId, String hostname, String endpoint, List<String> names,
                            String csrPem) {
    public EnrollRequest {
        names = names == null ? List.of() : List.copyOf(names);
    }
}
