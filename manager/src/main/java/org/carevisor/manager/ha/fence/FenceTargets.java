package org.carevisor.manager.ha.fence;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.regex.Pattern;
import org.carevisor.protocol.HostAddress;

/**
 * Checks what a fence agent is told to reach, when it is set (so a bad BMC address is refused at once with
 * the field named, instead of throwing when a host must be fenced) and again before each fence attempt (for
 * settings stored by an older version). Each check throws {@link IllegalArgumentException} with what is wrong.
 * Stateless.
 */
public final class FenceTargets {
    private static final Pattern NAMESPACE = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    private static final Pattern SYSTEM_ID = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    public static final int MAX_USER = 64;
    public static final int MAX_PASSWORD = 256;
    public static final int MAX_CA_PEM = 20_000; // the column holds this much

    private FenceTargets() {
    }

    /** An IPMI BMC address: an IP address or DNS name only. */
    public static HostAddress ipmiAddress(String address) {
        try {
            return HostAddress.parse(address);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the BMC's address " + e.getMessage());
        }
    }

    /**
     * A Redfish BMC's base URL: {@code https://<IP address or DNS name>[:port][/]}, without user info (the
     * credentials are separate fields), path, query or fragment; returned in canonical form.
     */
    public static URI redfishUrl(String address) {
        if (address == null || address.length() > 255) {
            throw new IllegalArgumentException("must be the BMC's https URL (at most 255 characters), e.g."
                    + " https://10.0.9.21");
        }
        URI uri;
        try {
            uri = new URI(address);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("'" + address + "' is not a URL: " + e.getReason());
        }
        if (uri.isOpaque() || uri.getScheme() == null || !uri.getScheme().equals("https")) {
            throw new IllegalArgumentException("must start with https:// (Redfish fencing only speaks verified TLS)");
        }
        if (uri.getRawUserInfo() != null) {
            throw new IllegalArgumentException("must not carry a user or password (give them as username and"
                    + " password)");
        }
        if (uri.getHost() == null) {
            throw new IllegalArgumentException("'" + address + "' names no valid host (an IP address or DNS name)");
        }
        HostAddress host;
        try {
            host = HostAddress.parse(uri.getHost());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the BMC's host " + e.getMessage());
        }
        if (uri.getPort() != -1 && (uri.getPort() < 1 || uri.getPort() > 65535)) {
            throw new IllegalArgumentException("port " + uri.getPort() + " is not between 1 and 65535");
        }
        String path = uri.getRawPath();
        if (path != null && !path.isEmpty() && !path.equals("/")) {
            throw new IllegalArgumentException("must not have a path ('" + path + "'): give the BMC's base URL,"
                    + " Carevisor adds /redfish/v1/...");
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw new IllegalArgumentException("must not have a query or fragment");
        }
        return URI.create("https://" + host.uriForm() + (uri.getPort() == -1 ? "" : ":" + uri.getPort()));
    }

    /** A Redfish system id (the last path segment of {@code /redfish/v1/Systems/<id>}). */
    public static String redfishSystem(String target) {
        if (target == null || !SYSTEM_ID.matcher(target).matches() || target.equals(".") || target.equals("..")) {
            throw new IllegalArgumentException("a Redfish system id is 1-64 letters, digits, '.', '_' or '-' (e.g. 1)");
        }
        return target;
    }

    /** A BMC user name: printable, no colon for Redfish (it would split the Basic credentials). */
    public static void username(String user, boolean redfish) {
        if (user == null || user.isEmpty() || user.length() > MAX_USER || !printable(user)) {
            throw new IllegalArgumentException("must be 1-" + MAX_USER + " printable characters");
        }
        if (redfish && user.contains(":")) {
            throw new IllegalArgumentException("must not contain ':' (HTTP Basic authentication)");
        }
    }

    /** A BMC password: 1-256 characters, no control characters. */
    public static void password(String password) {
        if (password == null || password.isEmpty() || password.length() > MAX_PASSWORD || !printable(password)) {
            throw new IllegalArgumentException("must be 1-" + MAX_PASSWORD + " characters without control characters");
        }
    }

    /** A lab host's network namespace name. */
    public static String namespace(String target) {
        if (target == null || !NAMESPACE.matcher(target).matches()) {
            throw new IllegalArgumentException("'" + target + "' is not a network namespace name (1-64 letters,"
                    + " digits, '.', '_' or '-')");
        }
        return target;
    }

    private static boolean printable(String s) {
        return s.codePoints().noneMatch(Character::isISOControl);
    }

    /** The kinds of fence agent, with {@code lab} only where the manager runs in lab mode. */
    public static String kinds(boolean labMode) {
        return labMode ? "ipmi, redfish, lab or none" : "ipmi, redfish or none";
    }
}
