package org.carevisor.manager.ha;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.protocol.PortForward;
import org.carevisor.protocol.VmStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Guest health checks of HA VMs: {@code tcp:PORT} (a connection is accepted) or {@code http:PORT/path} (an answer
 * below 400), on the guest's address: the host side of a forwarded port, or the fixed address of a bridged NIC.
 * Failures count only after the guest answered once since its QEMU started or was reset (a booting guest is not
 * failing); {@code healthFailures} failures in a row make the VM fail. Thread-safe.
 */
final class HealthChecks {
    private static final Logger LOG = LoggerFactory.getLogger(HealthChecks.class);
    private static final Pattern CHECK = Pattern.compile("(tcp|http):(\\d{1,5})(/[\\x21-\\x7e]*)?");
    private static final Duration TIMEOUT = Duration.ofSeconds(3);

    /** Where to check. */
    record Address(String kind, String host, int port, String path) {
        String describe() {
            return kind + "://" + host + ":" + port + (path == null ? "" : path);
        }
    }

    private static final class State {
        Instant startedAt;
        boolean seenUp;
        int failures;
        Instant nextAt = Instant.EPOCH;
        boolean inFlight;
        Instant inFlightSince;
        long probe; // number of the latest probe; a late answer of an abandoned one is ignored
    }

    /** A probe that has not come back after this long (its timeouts are 3 s) is abandoned and counted failed. */
    private static final Duration ABANDON = Duration.ofSeconds(10);

    private final Executor work;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
    private final Map<String, State> states = new ConcurrentHashMap<>();

    HealthChecks(Executor work) {
        this.work = work;
    }

    /** Null when {@code check} is well-formed, else what is wrong with it. */
    static String problem(String check) {
        if (check == null) {
            return null;
        }
        Matcher m = CHECK.matcher(check);
        if (!m.matches()) {
            return "'" + check + "' is not a health check; use tcp:PORT or http:PORT/path (e.g. http:80/health)";
        }
        int port = Integer.parseInt(m.group(2));
        if (port < 1 || port > 65535) {
            return "port " + port + " is out of range 1-65535";
        }
        if ("tcp".equals(m.group(1)) && m.group(3) != null) {
            return "a tcp check has no path; use tcp:PORT";
        }
        return null;
    }

    /** The address to check for a running VM: a forward of the guest port, else its first bridged NIC address. */
    static Optional<Address> address(String check, VmRecord vm, VmStatus status) {
        Matcher m = CHECK.matcher(check);
        if (!m.matches()) {
            return Optional.empty();
        }
        int guestPort = Integer.parseInt(m.group(2));
        String path = "http".equals(m.group(1)) ? (m.group(3) == null ? "/" : m.group(3)) : null;
        for (PortForward f : status.forwards()) {
            if (f.guestPort() == guestPort && "tcp".equals(f.protocol())) {
                String host = f.hostAddress() == null || f.hostAddress().equals("0.0.0.0") ? "127.0.0.1"
                        : f.hostAddress();
                return Optional.of(new Address(m.group(1), host, f.hostPort(), path));
            }
        }
        return vm.nics().stream().filter(n -> n.ip() != null).findFirst()
                .map(n -> new Address(m.group(1), n.ip(), guestPort, path));
    }

    /**
     * Runs the VM's check when it is due; calls {@code onFailed} with what failed when the VM reached its
     * number of failures in a row (and starts counting again, waiting for the guest to answer first).
     */
    void due(String vmId, Instant startedAt, VmHa ha, Address address, Instant now, Consumer<String> onFailed) {
        State s = states.computeIfAbsent(vmId, k -> new State());
        long probeNumber = 0;
        String abandonedFailed = null;
        synchronized (s) {
            if (!java.util.Objects.equals(s.startedAt, startedAt)) { // a new QEMU, or the first look
                s.startedAt = startedAt;
                s.seenUp = false;
                s.failures = 0;
                s.inFlight = false;
                s.probe++; // a probe of the previous QEMU still out does not count for this one
                s.nextAt = Instant.EPOCH;
            }
            if (s.inFlight && now.isAfter(s.inFlightSince.plus(ABANDON))) {
                LOG.warn("health check of VM {} ({}): the probe started at {} has not come back; counted as failed",
                        vmId, address.describe(), s.inFlightSince);
                s.inFlight = false;
                s.probe++; // its answer, should it still come, is ignored
                abandonedFailed = count(vmId, s, ha, address, "no answer within " + ABANDON.toSeconds() + " s");
            }
            if (abandonedFailed == null && !s.inFlight && !now.isBefore(s.nextAt)) {
                s.inFlight = true;
                s.inFlightSince = now;
                s.nextAt = now.plusSeconds(Math.max(1, ha.healthIntervalSeconds()));
                probeNumber = ++s.probe;
            }
        }
        if (abandonedFailed != null) {
            onFailed.accept(abandonedFailed);
            return;
        }
        if (probeNumber == 0) {
            return; // not due, or the previous probe is still out
        }
        long mine = probeNumber;
        work.execute(() -> {
            String failure;
            try {
                failure = probe(address);
            } catch (RuntimeException e) {
                failure = e.toString();
            }
            String failedFor;
            synchronized (s) {
                if (s.probe != mine) {
                    return; // abandoned meanwhile (counted then)
                }
                s.inFlight = false; // never left set, or the VM would not be checked again
                failedFor = count(vmId, s, ha, address, failure);
            }
            if (failedFor != null) {
                onFailed.accept(failedFor);
            }
        });
    }

    /**
     * Counts one probe's outcome ({@code failure} null: it answered); returns what failed when the VM reached its
     * number of failures in a row. Caller holds {@code s}.
     */
    private static String count(String vmId, State s, VmHa ha, Address address, String failure) {
        if (failure == null) {
            if (!s.seenUp || s.failures > 0) {
                LOG.info("health check of VM {} ({}) answers; failures count from now", vmId, address.describe());
            }
            s.seenUp = true;
            s.failures = 0;
            return null;
        }
        if (!s.seenUp) {
            return null; // still booting (or not answered since its last reset): not failing yet
        }
        if (++s.failures < ha.healthFailures()) {
            LOG.info("health check of VM {} ({}) failed ({} of {}): {}", vmId, address.describe(), s.failures,
                    ha.healthFailures(), failure);
            return null;
        }
        String failedFor = "health check " + address.describe() + " failed " + s.failures + " time(s) in a row ("
                + failure + ")";
        s.seenUp = false;
        s.failures = 0;
        return failedFor;
    }

    /** Forgets VMs that are no longer checked. */
    void retain(Set<String> vmIds) {
        states.keySet().retainAll(vmIds);
    }

    /** Null when the guest answered, else what went wrong. */
    private String probe(Address a) {
        try {
            if ("tcp".equals(a.kind())) {
                try (Socket socket = new Socket()) {
                    socket.connect(new InetSocketAddress(a.host(), a.port()), (int) TIMEOUT.toMillis());
                }
                return null;
            }
            HttpResponse<Void> r = http.send(HttpRequest.newBuilder(URI.create("http://" + a.host() + ":" + a.port()
                    + a.path())).timeout(TIMEOUT).GET().build(), HttpResponse.BodyHandlers.discarding());
            return r.statusCode() < 400 ? null : "HTTP " + r.statusCode();
        } catch (java.io.IOException e) {
            return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }
}
