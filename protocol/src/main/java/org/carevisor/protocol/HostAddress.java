package org.carevisor.protocol;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * An address of a host as Carevisor accepts it wherever one crosses the wire (agent endpoints, migration
 * addresses, BMC addresses): an IPv4 literal, an IPv6 literal or a DNS name, in one canonical form so that two
 * spellings of one address compare equal. Anything else - user info, ports, paths, options after a comma, zone
 * ids, IPv4-mapped IPv6, unspecified or multicast addresses, a name that only looks like an address - is refused
 * with the reason. Immutable, thread-safe.
 *
 * @param value canonical text: dotted quad, {@link Inet6Address#getHostAddress()} form, or lower-case name
 * @param kind  what it is
 */
public record HostAddress(String value, Kind kind) {
    /** What an address is. */
    public enum Kind { IPV4, IPV6, DNS }

    private static final Pattern OCTET = Pattern.compile("25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]");
    private static final Pattern IPV4 = Pattern.compile("(" + OCTET + ")(\\.(" + OCTET + ")){3}");
    private static final Pattern IPV6_CHARS = Pattern.compile("[0-9A-Fa-f:.]{2,45}");
    private static final Pattern LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    /** Parses {@code text}; throws {@link IllegalArgumentException} saying what is wrong with it. */
    public static HostAddress parse(String text) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("is empty; give an IP address or a DNS name");
        }
        if (text.length() > 253) {
            throw new IllegalArgumentException("is longer than 253 characters");
        }
        String t = text;
        if (t.startsWith("[") && t.endsWith("]")) {
            t = t.substring(1, t.length() - 1);
            if (!t.contains(":")) {
                throw new IllegalArgumentException("'" + text + "': only IPv6 addresses go in brackets");
            }
        }
        if (t.contains(":")) {
            return ipv6(text, t);
        }
        if (t.matches("[0-9.]+")) {
            if (!IPV4.matcher(t).matches()) {
                throw new IllegalArgumentException("'" + text + "' is not an IPv4 address (four numbers 0-255 without"
                        + " leading zeros)");
            }
            int first = Integer.parseInt(t.substring(0, t.indexOf('.')));
            if (first == 0 || first >= 224) {
                throw new IllegalArgumentException("'" + text + "' is an unspecified, multicast or reserved address,"
                        + " not the address of a host");
            }
            return new HostAddress(t, Kind.IPV4);
        }
        String name = t.toLowerCase(Locale.ROOT);
        String[] labels = name.split("\\.", -1);
        for (String label : labels) {
            if (!LABEL.matcher(label).matches()) {
                throw new IllegalArgumentException("'" + text + "' is not an IP address or DNS name (labels of letters,"
                        + " digits and inner hyphens, 1-63 characters, separated by single dots)");
            }
        }
        if (labels[labels.length - 1].matches("[0-9]+")) {
            throw new IllegalArgumentException("'" + text + "' looks like an IP address but is not one");
        }
        return new HostAddress(name, Kind.DNS);
    }

    private static HostAddress ipv6(String text, String t) {
        if (!IPV6_CHARS.matcher(t).matches()) {
            throw new IllegalArgumentException("'" + text + "' is not an IPv6 address (hex digits and colons; no"
                    + " zone id, port or option)");
        }
        InetAddress a;
        try {
            a = InetAddress.getByName(t); // a literal: no name lookup
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("'" + text + "' is not an IPv6 address");
        }
        if (!(a instanceof Inet6Address)) {
            throw new IllegalArgumentException("'" + text + "' is an IPv4-mapped IPv6 address; give the IPv4 address");
        }
        if (a.isAnyLocalAddress() || a.isMulticastAddress()) {
            throw new IllegalArgumentException("'" + text + "' is an unspecified or multicast address, not the"
                    + " address of a host");
        }
        return new HostAddress(a.getHostAddress(), Kind.IPV6);
    }

    /** True for 127.0.0.0/8, ::1 and {@code localhost} (names that always mean "this machine"). */
    public boolean loopback() {
        return switch (kind) {
            case IPV4 -> value.startsWith("127.");
            case IPV6 -> value.equals("0:0:0:0:0:0:0:1");
            case DNS -> value.equals("localhost") || value.endsWith(".localhost");
        };
    }

    /**
     * True for the loopback addresses every process of a machine shares: 127.0.0.1, ::1 and {@code localhost}
     * (other 127.x addresses are assigned to something deliberately).
     */
    public boolean sharedLoopback() {
        return value.equals("127.0.0.1") || value.equals("0:0:0:0:0:0:0:1") || value.equals("localhost");
    }

    /** True for an IP literal (not a name). */
    public boolean ip() {
        return kind != Kind.DNS;
    }

    /** The form that goes into a URI: IPv6 in brackets. */
    public String uriForm() {
        return kind == Kind.IPV6 ? "[" + value + "]" : value;
    }

    @Override
    public String toString() {
        return value;
    }
}
