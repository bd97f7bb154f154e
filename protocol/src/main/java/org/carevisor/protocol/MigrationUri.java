package org.carevisor.protocol;

/**
 * The only kind of live-migration stream address Carevisor uses: {@code tcp:<host>:<port>}, the host an IP
 * literal or DNS name ({@link HostAddress}), the port 1024-65535. Both sides parse with it: the manager the
 * destination's answer, the source agent the request it is given, so that no {@code exec:}, {@code file:},
 * {@code unix:} or option-carrying URI ever reaches QEMU's {@code migrate}. Immutable, thread-safe.
 */
public record MigrationUri(HostAddress host, int port) {
    public static final int MIN_PORT = 1024;
    public static final int MAX_PORT = 65535;

    public MigrationUri {
        if (port < MIN_PORT || port > MAX_PORT) {
            throw new IllegalArgumentException("port " + port + " is not between " + MIN_PORT + " and " + MAX_PORT);
        }
    }

    /** Parses {@code uri}; throws {@link IllegalArgumentException} saying what is wrong with it. */
    public static MigrationUri parse(String uri) {
        if (uri == null || uri.isEmpty()) {
            throw new IllegalArgumentException("no migration URI given");
        }
        if (uri.length() > 300) {
            throw new IllegalArgumentException("the migration URI is longer than 300 characters");
        }
        if (!uri.startsWith("tcp:")) {
            String scheme = uri.contains(":") ? uri.substring(0, uri.indexOf(':') + 1) : uri;
            throw new IllegalArgumentException("'" + shorten(scheme) + "' is not allowed: a migration URI must be"
                    + " tcp:<address>:<port>");
        }
        String rest = uri.substring(4);
        String host;
        String port;
        if (rest.startsWith("[")) {
            int close = rest.indexOf(']');
            if (close < 0 || close + 1 >= rest.length() || rest.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("'" + shorten(uri) + "' is not tcp:[<IPv6 address>]:<port>");
            }
            host = rest.substring(0, close + 1);
            port = rest.substring(close + 2);
        } else {
            int colon = rest.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("'" + shorten(uri) + "' has no port: tcp:<address>:<port>");
            }
            host = rest.substring(0, colon);
            port = rest.substring(colon + 1);
            if (host.contains(":")) {
                throw new IllegalArgumentException("'" + shorten(uri) + "': an IPv6 address goes in brackets");
            }
        }
        if (!port.matches("[0-9]{1,5}")) {
            throw new IllegalArgumentException("'" + shorten(uri) + "': the port must be a number (no options)");
        }
        HostAddress address;
        try {
            address = HostAddress.parse(host);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the address of '" + shorten(uri) + "' " + e.getMessage());
        }
        return new MigrationUri(address, Integer.parseInt(port));
    }

    @Override
    public String toString() {
        return "tcp:" + host.uriForm() + ":" + port;
    }

    private static String shorten(String s) {
        String printable = s.replaceAll("[^\\x20-\\x7e]", "?");
        return printable.length() <= 80 ? printable : printable.substring(0, 77) + "...";
    }
}
