package org.carevisor.manager.network;

import java.util.regex.Pattern;

/** IPv4 addresses as unsigned 32-bit numbers. Pure. */
final class Ipv4 {
    private static final Pattern DOTTED = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})");

    private Ipv4() {
    }

    /** The address as a number, or -1 when it is not a dotted IPv4 address. */
    static long parse(String text) {
        if (text == null) {
            return -1;
        }
        var m = DOTTED.matcher(text);
        if (!m.matches()) {
            return -1;
        }
        long v = 0;
        for (int i = 1; i <= 4; i++) {
            int part = Integer.parseInt(m.group(i));
            if (part > 255 || (m.group(i).length() > 1 && m.group(i).startsWith("0"))) {
                return -1;
            }
            v = v << 8 | part;
        }
        return v;
    }

    static String format(long v) {
        return (v >> 24 & 255) + "." + (v >> 16 & 255) + "." + (v >> 8 & 255) + "." + (v & 255);
    }

    /** A parsed CIDR block: the network address and prefix length. */
    record Block(long network, int prefix) {
        long mask() {
            return prefix == 0 ? 0 : (0xFFFFFFFFL << (32 - prefix)) & 0xFFFFFFFFL;
        }

        long broadcast() {
            return network | (~mask() & 0xFFFFFFFFL);
        }

        boolean contains(long address) {
            return (address & mask()) == network;
        }
    }

    /** The block, or null when {@code cidr} is not {@code A.B.C.D/N} with A.B.C.D the network address. */
    static Block block(String cidr) {
        if (cidr == null) {
            return null;
        }
        String[] parts = cidr.split("/", -1);
        if (parts.length != 2 || !parts[1].matches("\\d{1,2}")) {
            return null;
        }
        long address = parse(parts[0]);
        int prefix = Integer.parseInt(parts[1]);
        if (address < 0 || prefix < 8 || prefix > 30) {
            return null;
        }
        Block b = new Block(address, prefix);
        return (address & b.mask()) == address ? b : null;
    }
}
