package org.carevisor.protocol;

/**
 * Where an agent accepts the manager's calls: {@code https://<host>:<port>} with nothing else (no user info,
 * path, query or fragment). The host part is the agent's identity on the network: the manager puts it, and only
 * it, into the host's certificate. Immutable, thread-safe.
 */
public record AgentEndpoint(HostAddress host, int port) {
    public AgentEndpoint {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is not between 1 and 65535");
        }
    }

    /** Parses {@code url}; throws {@link IllegalArgumentException} saying what is wrong with it. */
    public static AgentEndpoint parse(String url) {
        if (url == null || url.length() > 300) {
            throw new IllegalArgumentException("must be the agent's https://<address>:<port> (at most 300 characters)");
        }
        if (!url.startsWith("https://")) {
            throw new IllegalArgumentException("must start with https:// (the agent only speaks TLS)");
        }
        String rest = url.substring("https://".length());
        if (rest.endsWith("/")) {
            rest = rest.substring(0, rest.length() - 1);
        }
        if (rest.contains("/") || rest.contains("@") || rest.contains("?") || rest.contains("#")) {
            throw new IllegalArgumentException("must be https://<address>:<port> only, without user, path, query or"
                    + " fragment");
        }
        String host;
        String port;
        if (rest.startsWith("[")) {
            int close = rest.indexOf(']');
            if (close < 0 || close + 1 >= rest.length() || rest.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("must be https://[<IPv6 address>]:<port>");
            }
            host = rest.substring(0, close + 1);
            port = rest.substring(close + 2);
        } else {
            int colon = rest.lastIndexOf(':');
            if (colon < 0 || rest.indexOf(':') != colon) {
                throw new IllegalArgumentException("must name the port: https://<address>:<port>");
            }
            host = rest.substring(0, colon);
            port = rest.substring(colon + 1);
        }
        if (!port.matches("[0-9]{1,5}")) {
            throw new IllegalArgumentException("the port must be a number");
        }
        HostAddress address;
        try {
            address = HostAddress.parse(host);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the address " + e.getMessage());
        }
        return new AgentEndpoint(address, Integer.parseInt(port));
    }

    @Override
    public String toString() {
        return "https://" + host.uriForm() + ":" + port;
    }
}
