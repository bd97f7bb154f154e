package org.carevisor.manager.audit;

import java.io.IOException;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A copy of every audit checkpoint (and of integrity alarms) for syslog, so the newest genuine checkpoint is also
 * kept by a log server the database's users cannot reach. Targets: {@code local} (the host's syslog through
 * util-linux {@code logger}, i.e. {@code /dev/log}, from where rsyslog or journald ship it on), {@code udp://HOST:PORT}
 * and {@code tcp://HOST:PORT} (RFC 5424 messages sent straight to a syslog server; TCP with octet-counted framing,
 * RFC 6587), or {@code none}. Facility auth; checkpoints at severity notice, alarms at crit. A failure to send is
 * kept ({@link #lastError}) and logged once per kind of failure; it never stops the manager. Thread-safe.
 */
public final class SyslogSink {
    private static final Logger LOG = LoggerFactory.getLogger(SyslogSink.class);
    private static final int FACILITY_AUTH = 4;
    public static final int NOTICE = 5;
    public static final int CRIT = 2;
    private static final String APP = "carevisor-manager";

    private final String kind;
    private final String host;
    private final int port;
    private volatile String lastError;
    private volatile String loggedError;

    private SyslogSink(String kind, String host, int port) {
        this.kind = kind;
        this.host = host;
        this.port = port;
    }

    /** Parses {@code none}, {@code local}, {@code udp://HOST:PORT} or {@code tcp://HOST:PORT}. */
    public static SyslogSink parse(String spec) {
        String s = spec == null ? "local" : spec.strip();
        if (s.equals("none") || s.equals("local")) {
            return new SyslogSink(s, null, 0);
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(udp|tcp)://([A-Za-z0-9.-]{1,253}|\\[[0-9A-Fa-f:.]+\\])"
                + ":(\\d{1,5})").matcher(s);
        if (!m.matches() || Integer.parseInt(m.group(3)) < 1 || Integer.parseInt(m.group(3)) > 65535) {
            throw new IllegalArgumentException("--audit-syslog must be local, none, udp://HOST:PORT or tcp://HOST:PORT,"
                    + " not '" + s + "'");
        }
        String h = m.group(2).startsWith("[") ? m.group(2).substring(1, m.group(2).length() - 1) : m.group(2);
        return new SyslogSink(m.group(1), h, Integer.parseInt(m.group(3)));
    }

    /** What it sends to, e.g. {@code tcp://127.0.0.1:6514}. */
    public String describe() {
        return host == null ? kind : kind + "://" + host + ":" + port;
    }

    /** True for a server named by address (udp, tcp), false for local and none. */
    public boolean remote() {
        return host != null;
    }

    /** The last failure to send, or null when the last message went out. */
    public String lastError() {
        return lastError;
    }

    /** Sends one message; returns false (and keeps the reason) when it could not. */
    public boolean send(int severity, String msgId, String message) {
        if (kind.equals("none")) {
            return true;
        }
        try {
            if (kind.equals("local")) {
                local(severity, msgId, message);
            } else {
                byte[] bytes = rfc5424(severity, msgId, message).getBytes(StandardCharsets.UTF_8);
                if (kind.equals("udp")) {
                    try (DatagramSocket s = new DatagramSocket()) {
                        s.send(new DatagramPacket(bytes, bytes.length, new InetSocketAddress(host, port)));
                    }
                } else {
                    try (Socket s = new Socket()) {
                        s.connect(new InetSocketAddress(host, port), 3000);
                        s.setSoTimeout(3000);
                        OutputStream out = s.getOutputStream();
                        out.write((bytes.length + " ").getBytes(StandardCharsets.US_ASCII));
                        out.write(bytes);
                        out.flush();
                    }
                }
            }
            if (lastError != null) {
                LOG.info("audit checkpoints reach syslog ({}) again", describe());
            }
            lastError = null;
            loggedError = null;
            return true;
        } catch (IOException | RuntimeException e) {
            String why = "cannot send to syslog (" + describe() + "): " + e.getMessage();
            lastError = why;
            if (!why.equals(loggedError)) {
                loggedError = why;
                LOG.warn("{}", why);
            }
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            lastError = "interrupted";
            return false;
        }
    }

    private void local(int severity, String msgId, String message) throws IOException, InterruptedException {
        if (!java.nio.file.Files.exists(java.nio.file.Path.of("/dev/log"))) {
            // logger would drop the message without a word
            throw new IOException("this host has no syslog socket /dev/log (no rsyslog or systemd-journald running);"
                    + " start one or set --audit-syslog udp://HOST:PORT or tcp://HOST:PORT");
        }
        Process p = new ProcessBuilder(List.of("logger", "--rfc5424=notq", "--size", "8192", "--id="
                + ProcessHandle.current().pid(), "--msgid", msgId, "-t", APP, "-p", "auth." + severityName(severity),
                "--", message)).redirectErrorStream(true).start();
        p.getOutputStream().close();
        if (!p.waitFor(5, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("logger did not finish in 5 s");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (p.exitValue() != 0) {
            throw new IOException("logger exited with " + p.exitValue() + (out.isEmpty() ? "" : ": " + out));
        }
    }

    /** An RFC 5424 message: {@code <PRI>1 TIME HOST APP PROCID MSGID - MSG}. */
    static String rfc5424(int severity, String msgId, String message) {
        String hostName;
        try {
            hostName = java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            hostName = "-";
        }
        return "<" + (FACILITY_AUTH * 8 + severity) + ">1 " + Instant.now().truncatedTo(ChronoUnit.MILLIS) + " "
                + hostName.replaceAll("[^!-~]", "_") + " " + APP + " " + ProcessHandle.current().pid() + " " + msgId
                + " - " + message;
    }

    private static String severityName(int severity) {
        return switch (severity) {
            case CRIT -> "crit";
            case NOTICE -> "notice";
            default -> "info";
        };
    }
}
