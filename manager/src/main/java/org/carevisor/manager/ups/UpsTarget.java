package org.carevisor.manager.ups;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.carevisor.protocol.HostAddress;

/**
 * A UPS as Network UPS Tools' {@code upsd} serves it: {@code NAME@HOST[:PORT]} (port 3493 by default), as in
 * {@code upsc}. The name is NUT's UPS name; the host an IP address or DNS name (IPv6 in brackets).
 */
public record UpsTarget(String name, HostAddress host, int port) {
    /** NUT's UPS names: letters, digits, '.', '_', '-'. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    public static UpsTarget parse(String text) {
        String t = text.strip();
        int at = t.indexOf('@');
        if (at <= 0) {
            throw new IllegalArgumentException("--ups '" + text + "' must look like NAME@HOST or NAME@HOST:PORT"
                    + " (the UPS name as upsd knows it, e.g. serverroom@ups-host.hospital.local)");
        }
        String name = t.substring(0, at);
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("--ups: the UPS name '" + name + "' must be 1-64 letters, digits, '.',"
                    + " '_' or '-'");
        }
        String rest = t.substring(at + 1);
        String host = rest;
        int port = 3493;
        if (rest.startsWith("[")) {
            int close = rest.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("--ups '" + text + "': an IPv6 address needs its closing ']'");
            }
            host = rest.substring(1, close);
            if (close + 1 < rest.length()) {
                if (rest.charAt(close + 1) != ':') {
                    throw new IllegalArgumentException("--ups '" + text + "': only :PORT may follow the address");
                }
                port = port(rest.substring(close + 2), text);
            }
        } else if (rest.indexOf(':') >= 0 && rest.indexOf(':') == rest.lastIndexOf(':')) {
            host = rest.substring(0, rest.indexOf(':'));
            port = port(rest.substring(rest.indexOf(':') + 1), text);
        }
        HostAddress address;
        try {
            address = HostAddress.parse(host);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--ups '" + text + "': " + e.getMessage());
        }
        return new UpsTarget(name, address, port);
    }

    /** A comma-separated list ({@code --ups a@h1,b@h2}); empty: none. At most 16, no UPS twice. */
    public static List<UpsTarget> parseList(String text) {
        List<UpsTarget> out = new ArrayList<>();
        if (text == null || text.isBlank()) {
            return out;
        }
        for (String part : text.split(",")) {
            UpsTarget u = parse(part);
            if (out.stream().anyMatch(o -> o.toString().equals(u.toString()))) {
                throw new IllegalArgumentException("--ups names " + u + " twice");
            }
            out.add(u);
        }
        if (out.size() > 16) {
            throw new IllegalArgumentException("--ups names " + out.size() + " UPSes; at most 16 are watched");
        }
        return List.copyOf(out);
    }

    private static int port(String s, String text) {
        try {
            int p = Integer.parseInt(s);
            if (p >= 1 && p <= 65535) {
                return p;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("--ups '" + text + "': the port must be a number from 1 to 65535");
    }

    @Override
    public String toString() {
        return name + "@" + (host.kind() == HostAddress.Kind.IPV6 ? "[" + host.value() + "]" : host.value())
                + (port == 3493 ? "" : ":" + port);
    }
}
