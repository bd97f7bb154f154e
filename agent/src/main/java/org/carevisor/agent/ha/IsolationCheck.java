package org.carevisor.agent.ha;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.carevisor.protocol.HaTimings;

/**
 * Decides whether this host is isolated: no report has reached the manager for {@link HaTimings#ISOLATION}
 * and no peer agent answers either. A manager that is merely down leaves the peers reachable, so nothing
 * happens then. Peers are the other hosts whose storage leases are fresh; when there is none, the host is
 * not treated as isolated: no other host could take its VMs over, so releasing them would only stop them.
 *
 * <p>The decision is a pure function of its inputs; reaching the peers is a {@link Reachability}, by
 * default {@link #tcp(Duration) a TCP connect} to each peer's endpoint. Stateless; thread-safe.
 */
public final class IsolationCheck {
    /** A peer agent: its host id and API endpoint (from its lease file). */
    public record Peer(String hostId, String endpoint) {
    }

    /** Whether any of the peers can be reached now. */
    @FunctionalInterface
    public interface Reachability {
        boolean anyReachable(List<Peer> peers);
    }

    /**
     * The conclusion.
     *
     * @param isolated  the host reached neither the manager nor a peer
     * @param silentFor how long no report has reached the manager
     * @param detail    a sentence for the log
     */
    public record Verdict(boolean isolated, Duration silentFor, String detail) {
    }

    private IsolationCheck() {
    }

    /**
     * Assesses isolation at {@code now}, the last report having reached the manager at {@code lastContact};
     * {@code peers} are asked only when the manager has been silent for {@link HaTimings#ISOLATION}.
     */
    public static Verdict assess(Instant lastContact, Instant now, List<Peer> peers, Reachability reach) {
        Duration silent = Duration.between(lastContact, now);
        if (silent.compareTo(HaTimings.ISOLATION) < 0) {
            return new Verdict(false, silent, "reports reach the manager");
        }
        long s = silent.toSeconds();
        if (peers.isEmpty()) {
            return new Verdict(false, silent, "no report reached the manager for " + s + " s, but no other host"
                    + " renews its storage lease: nobody could take this host's VMs over");
        }
        if (reach.anyReachable(peers)) {
            return new Verdict(false, silent, "no report reached the manager for " + s + " s, but a peer agent"
                    + " answers: the manager is down, not this host's network");
        }
        return new Verdict(true, silent, "the host reached neither the manager nor any of its " + peers.size()
                + " peer(s) for " + s + " s");
    }

    /** Reaches a peer by opening a TCP connection to its endpoint's host and port within {@code timeout}. */
    public static Reachability tcp(Duration timeout) {
        return peers -> {
            List<Callable<Boolean>> probes = new ArrayList<>();
            for (Peer p : peers) {
                probes.add(() -> {
                    connect(p.endpoint(), timeout);
                    return true;
                });
            }
            if (probes.isEmpty()) {
                return false;
            }
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                return pool.invokeAny(probes); // the first probe that connects; throws when all fail
            } catch (ExecutionException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        };
    }

    /** Opens and closes a TCP connection to the host and port of {@code endpoint} (default port by scheme). */
    static void connect(String endpoint, Duration timeout) throws IOException {
        URI uri = URI.create(endpoint);
        if (uri.getHost() == null) {
            throw new IOException("endpoint " + endpoint + " names no host");
        }
        int port = uri.getPort() >= 0 ? uri.getPort() : "http".equals(uri.getScheme()) ? 80 : 443;
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(uri.getHost(), port), (int) timeout.toMillis());
        }
    }
}
