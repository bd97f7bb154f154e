package org.carevisor.protocol;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A host's storage lease, the text of its lease file {@code <storage>/.carevisor/leases/<host>.lease}, signed by
 * the host's own key (the EC P-256 key of its agent certificate, {@code tls/agent.key}). The canonical text is
 * one {@code key=value} per line in this order, then the signature over exactly the bytes before it:
 *
 * <pre>
 * carevisor-lease=1                 the format (and the context of the signature: no other text starts so)
 * host=3f6c...                      the owner
 * counter=1234                      grows by one with every renewal
 * written=1767225600123             epoch milliseconds, by the writer's clock (informational)
 * writer=agent                      agent, or keeper (a lease the agent signed in advance, written by its watchdog)
 * released=vm1,vm2                  HA VMs the owner powered off because it was isolated (may be empty)
 * released-runs=vm1@1767225000000,vm2@1767225000500
 *                                   the same VMs with the start (epoch ms) of the run that was stopped
 * endpoint=https://h:7701           the owner's agent API, probed by peers to tell isolation from a manager outage
 * signature=MEUCIQ...               base64 of the DER ECDSA-SHA256 signature of everything above
 * </pre>
 *
 * {@link #verify} accepts a text only when its signature verifies with the owner's key <b>and</b> the text before
 * the signature is exactly the canonical form of what it says (no extra, repeated or reordered lines), so what
 * the manager acts on is what the owner signed. {@link #parse} reads any lease text without checking anything
 * but the fields an agent needs from its peers' leases (older agents' unsigned files too); agents use it,
 * the manager never acts on it. {@code released} repeats the ids of {@code released-runs} for agents and
 * managers of the previous version, which read only that line. Immutable.
 *
 * @param hostId    the owner
 * @param counter   renewal counter
 * @param writtenAt when it was written (by the writer's clock)
 * @param writer    {@link #AGENT} or {@link #KEEPER}
 * @param released  VMs released by the isolation response, each with the run that was stopped
 * @param endpoint  the owner's agent endpoint, or null
 */
public record SignedLease(String hostId, long counter, Instant writtenAt, String writer, List<Released> released,
                          String endpoint) {
    public static final String AGENT = "agent";
    public static final String KEEPER = "keeper";
    /** The first line of every lease this version writes. */
    public static final String FORMAT_LINE = "carevisor-lease=1";
    static final String SIGNATURE_KEY = "signature=";
    static final String ALGORITHM = "SHA256withECDSA";
    /** Longest lease text accepted (1,024 released VMs fit). */
    public static final int MAX_TEXT = 96 * 1024;
    /** Most released VMs in one lease. */
    public static final int MAX_RELEASED = 1024;

    /**
     * A VM the owner released, and which run of it: a release names the QEMU process it stopped, so it can
     * never stand for a later start of the same VM.
     *
     * @param vmId the VM
     * @param run  when the stopped run started (epoch ms by the owner's clock; 0 when unknown)
     */
    public record Released(String vmId, long run) {
        @Override
        public String toString() {
            return vmId + "@" + run;
        }
    }

    /** Why a text is not a lease the owner signed; {@link #code} is stable. */
    public static final class Invalid extends Exception {
        private final String code;

        Invalid(String code, String message) {
            super(message);
            this.code = code;
        }

        /** {@code lease-unsigned}, {@code lease-malformed} or {@code lease-signature-invalid}. */
        public String code() {
            return code;
        }
    }

    public SignedLease {
        released = released == null ? List.of() : List.copyOf(released);
    }

    /** The ids of the released VMs. */
    public List<String> releasedIds() {
        return released.stream().map(Released::vmId).toList();
    }

    /** What a report carries of this lease; {@code text} is the lease file's text as read. */
    public LeaseSeen seen(String text) {
        return new LeaseSeen(hostId, counter, writtenAt, writer, releasedIds(), text);
    }

    /** The canonical text that is signed (everything but the signature line). */
    public String body() {
        return FORMAT_LINE + "\n"
                + "host=" + hostId + "\n"
                + "counter=" + counter + "\n"
                + "written=" + writtenAt.toEpochMilli() + "\n"
                + "writer=" + writer + "\n"
                + "released=" + String.join(",", releasedIds()) + "\n"
                + "released-runs=" + released.stream().map(Released::toString).collect(Collectors.joining(",")) + "\n"
                + "endpoint=" + (endpoint == null ? "" : endpoint) + "\n";
    }

    /** The complete lease text: the canonical body and its signature with {@code key}. */
    public String sign(PrivateKey key) {
        String body = body();
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initSign(key);
            s.update(body.getBytes(StandardCharsets.UTF_8));
            return body + SIGNATURE_KEY + Base64.getEncoder().encodeToString(s.sign()) + "\n";
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign the lease of host " + hostId + ": " + e.getMessage(), e);
        }
    }

    /**
     * The lease that {@code text} is, when it is signed with the private key of {@code key} and in canonical form;
     * otherwise {@link Invalid} says why. Does not check whose lease it is: the caller compares {@link #hostId}
     * with the host whose key it used.
     */
    public static SignedLease verify(String text, PublicKey key) throws Invalid {
        if (text == null || text.isEmpty()) {
            throw new Invalid("lease-unsigned", "the report carries no lease text (an agent of an older version, or"
                    + " not the lease file)");
        }
        if (text.length() > MAX_TEXT) {
            throw new Invalid("lease-malformed", "the lease text has " + text.length() + " characters, more than "
                    + MAX_TEXT);
        }
        if (!text.endsWith("\n")) {
            throw new Invalid("lease-malformed", "the lease text does not end with a line break");
        }
        int at = text.lastIndexOf("\n" + SIGNATURE_KEY, text.length() - 2);
        if (at < 0) {
            throw new Invalid("lease-unsigned", "the lease has no signature line (written by an older agent or"
                    + " keeper, or by someone without the host's key)");
        }
        String body = text.substring(0, at + 1);
        String encoded = text.substring(at + 1 + SIGNATURE_KEY.length(), text.length() - 1);
        byte[] signature;
        try {
            signature = Base64.getDecoder().decode(encoded);
        } catch (IllegalArgumentException e) {
            throw new Invalid("lease-malformed", "the signature is not base64");
        }
        if (!Base64.getEncoder().encodeToString(signature).equals(encoded)) {
            throw new Invalid("lease-malformed", "the signature is not in canonical base64");
        }
        if (!(key instanceof ECPublicKey)) {
            throw new Invalid("lease-signature-invalid", "the host's certificate holds no EC key");
        }
        boolean ok;
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initVerify(key);
            s.update(body.getBytes(StandardCharsets.UTF_8));
            ok = s.verify(signature);
        } catch (GeneralSecurityException e) {
            ok = false; // a signature that is not even DER
        }
        if (!ok) {
            throw new Invalid("lease-signature-invalid", "the signature does not verify with the host's certificate"
                    + " (not signed by that host's key, or changed since)");
        }
        SignedLease lease;
        try {
            lease = parse(body);
        } catch (IllegalArgumentException e) {
            throw new Invalid("lease-malformed", e.getMessage());
        }
        if (!lease.body().equals(body)) {
            throw new Invalid("lease-malformed", "the signed text is not in canonical form (extra, repeated or"
                    + " reordered lines)");
        }
        return lease;
    }

    /**
     * Reads a lease text without checking its signature: lenient about what it does not need (unknown keys, blank
     * lines, {@code #} comments, missing endpoint, released or released-runs lines, the signature) and strict about
     * what it does (host, counter, written). For agents reading their peers' leases; throws {@link
     * IllegalArgumentException} naming what is wrong.
     */
    public static SignedLease parse(String text) {
        String host = null;
        Long counter = null;
        Instant written = null;
        String writer = AGENT;
        List<String> ids = List.of();
        List<Released> runs = null;
        String endpoint = null;
        for (String raw : text.lines().toList()) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("line '" + abbreviate(line) + "' is not key=value");
            }
            String key = line.substring(0, eq).strip();
            String value = line.substring(eq + 1).strip();
            switch (key) {
                case "host" -> host = value;
                case "counter" -> counter = number(key, value);
                case "written" -> written = Instant.ofEpochMilli(number(key, value));
                case "writer" -> writer = value.isEmpty() ? AGENT : value;
                case "released" -> ids = items(value);
                case "released-runs" -> runs = runs(value);
                case "endpoint" -> endpoint = value.isEmpty() ? null : value;
                default -> {
                    // the format line, the signature, a newer writer's field
                }
            }
        }
        if (host == null || host.isEmpty() || counter == null || written == null) {
            throw new IllegalArgumentException("host, counter and written are required");
        }
        if (runs == null) {
            runs = ids.stream().map(id -> new Released(id, 0)).toList(); // an older writer: runs unknown
        } else if (!runs.stream().map(Released::vmId).toList().equals(ids)) {
            throw new IllegalArgumentException("released and released-runs name different VMs");
        }
        return new SignedLease(host, counter, written, writer, runs, endpoint);
    }

    private static long number(String key, String value) {
        try {
            long n = Long.parseLong(value);
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(key + " '" + abbreviate(value) + "' is not a non-negative number");
    }

    private static List<String> items(String value) {
        List<String> out = new ArrayList<>();
        Arrays.stream(value.split(",")).map(String::strip).filter(s -> !s.isEmpty()).forEach(out::add);
        if (out.size() > MAX_RELEASED) {
            throw new IllegalArgumentException("more than " + MAX_RELEASED + " released VMs");
        }
        return out;
    }

    private static List<Released> runs(String value) {
        List<Released> out = new ArrayList<>();
        for (String item : items(value)) {
            int at = item.lastIndexOf('@');
            if (at <= 0) {
                throw new IllegalArgumentException("released run '" + abbreviate(item) + "' is not VM@START");
            }
            out.add(new Released(item.substring(0, at), number("released run", item.substring(at + 1))));
        }
        return out;
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }
}
