package org.carevisor.manager.ups;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a UPS's state from Network UPS Tools' {@code upsd} over its text protocol (TCP 3493): {@code GET VAR}
 * of {@code ups.status}, {@code battery.charge} and {@code battery.runtime}, then {@code LOGOUT}. Read-only, no
 * login (upsd serves variables to anyone it lets connect). Everything the server sends is bounded and checked: a
 * line longer than {@link #MAX_LINE} bytes, an answer for another UPS or variable, or a status word that is not
 * NUT's is an error naming what was wrong; nothing from the server is used beyond the flags and two numbers.
 */
public final class NutClient {
    static final int MAX_LINE = 512;
    private static final Pattern VAR = Pattern.compile("VAR ([A-Za-z0-9._-]{1,64}) ([a-z0-9.]{1,64}) \"([^\"\\\\]{0,200})\"");
    private static final Pattern FLAG = Pattern.compile("[A-Z]{2,8}");
    private static final Pattern NUMBER = Pattern.compile("\\d{1,9}(\\.\\d{1,6})?");

    /** What the UPS reports: its status flags (OL, OB, LB, FSD, ...), charge (%) and runtime (s), when known. */
    public record Reading(Set<String> flags, Integer chargePercent, Integer runtimeSeconds) {
        public boolean onBattery() {
            return flags.contains("OB");
        }

        public boolean online() {
            return flags.contains("OL");
        }

        public boolean batteryLow() {
            return flags.contains("LB");
        }

        /** Forced shutdown: the NUT primary tells every client to shut down now. */
        public boolean forcedShutdown() {
            return flags.contains("FSD");
        }
    }

    /** The UPS could not be read; the message says why. */
    public static final class NutException extends Exception {
        public NutException(String message) {
            super(message);
        }
    }

    private final Duration timeout;

    public NutClient(Duration timeout) {
        this.timeout = timeout;
    }

    public Reading read(UpsTarget ups) throws NutException {
        // one deadline for the whole exchange: a upsd that sends a byte now and then must not hold the monitor
        long deadline = System.nanoTime() + timeout.toNanos();
        try (Socket s = new Socket()) {
            int ms = (int) timeout.toMillis();
            s.connect(new InetSocketAddress(ups.host().value(), ups.port()), ms);
            OutputStream out = s.getOutputStream();
            InputStream in = new DeadlineInput(s, deadline);
            String status = get(out, in, ups, "ups.status");
            if (status == null) {
                throw new NutException("upsd at " + ups.host().value() + ":" + ups.port() + " has no ups.status for"
                        + " UPS '" + ups.name() + "'");
            }
            Set<String> flags = new LinkedHashSet<>();
            for (String f : status.strip().split(" +")) {
                if (!FLAG.matcher(f).matches()) {
                    throw new NutException("UPS " + ups + " sent a status word that is not NUT's: '" + clip(f) + "'");
                }
                flags.add(f);
            }
            Integer charge = number(get(out, in, ups, "battery.charge"));
            Integer runtime = number(get(out, in, ups, "battery.runtime"));
            out.write("LOGOUT\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return new Reading(java.util.Collections.unmodifiableSet(flags), charge, runtime);
        } catch (java.net.SocketTimeoutException e) {
            throw new NutException("upsd at " + ups.host().value() + ":" + ups.port() + " did not answer within "
                    + timeout.toMillis() + " ms");
        } catch (IOException e) {
            throw new NutException("cannot reach upsd at " + ups.host().value() + ":" + ups.port() + ": "
                    + e.getMessage());
        }
    }

    /** Reads from a socket, each read bounded by what is left of one deadline for the whole exchange. */
    private static final class DeadlineInput extends InputStream {
        private final Socket socket;
        private final InputStream in;
        private final long deadline;

        DeadlineInput(Socket socket, long deadline) throws IOException {
            this.socket = socket;
            this.in = new java.io.BufferedInputStream(socket.getInputStream(), MAX_LINE);
            this.deadline = deadline;
        }

        @Override
        public int read() throws IOException {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                throw new java.net.SocketTimeoutException("deadline");
            }
            socket.setSoTimeout((int) Math.max(1, left));
            return in.read();
        }
    }

    /** One {@code GET VAR}; null when the UPS does not have the variable. */
    private static String get(OutputStream out, InputStream in, UpsTarget ups, String var)
            throws IOException, NutException {
        out.write(("GET VAR " + ups.name() + " " + var + "\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        String line = line(in);
        if (line.startsWith("ERR ")) {
            String err = line.substring(4).strip();
            if (err.equals("VAR-NOT-SUPPORTED")) {
                return null;
            }
            throw new NutException("upsd refused " + var + " of UPS '" + ups.name() + "': " + clip(err)
                    + (err.equals("UNKNOWN-UPS") ? " (no UPS of that name on this upsd; see upsc -l)" : ""));
        }
        Matcher m = VAR.matcher(line);
        if (!m.matches() || !m.group(1).equals(ups.name()) || !m.group(2).equals(var)) {
            throw new NutException("upsd sent an unexpected answer to GET VAR " + var + ": '" + clip(line) + "'");
        }
        return m.group(3);
    }

    private static String line(InputStream in) throws IOException, NutException {
        byte[] buf = new byte[MAX_LINE];
        int n = 0;
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new NutException("upsd closed the connection");
            }
            if (b == '\n') {
                break;
            }
            if (n == MAX_LINE) {
                throw new NutException("upsd sent a line longer than " + MAX_LINE + " bytes");
            }
            buf[n++] = (byte) b;
        }
        String s = new String(buf, 0, n, StandardCharsets.US_ASCII);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
    }

    private static Integer number(String s) {
        if (s == null || !NUMBER.matcher(s.strip()).matches()) {
            return null;
        }
        return (int) Math.round(Double.parseDouble(s.strip()));
    }

    private static String clip(String s) {
        String t = s.replaceAll("[^\\x20-\\x7e]", "?");
        return t.length() > 80 ? t.substring(0, 80) + "..." : t;
    }
}
