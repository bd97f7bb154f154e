package org.carevisor.manager.host;

import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.HostReport;

/**
 * The manager's live picture of its hosts: the newest report of each and when it arrived. A host whose
 * last report is older than the timeout is not responding. Thread-safe.
 */
public final class HostBoard {
    /** The newest report of a host and when it arrived. */
    public record Entry(HostReport report, Instant receivedAt) {
        public HostInventory inventory() {
            return report.inventory();
        }
    }

    private final Map<String, Entry> hosts = new ConcurrentHashMap<>();
    /** When each host first reported since this manager started: the order of {@link #connectedHosts()}. */
    private final Map<String, Instant> firstSeen = new ConcurrentHashMap<>();
    private final Duration timeout;

    public HostBoard(Duration timeout) {
        this.timeout = timeout;
    }

    /** Stores a report as the host's newest. */
    public void put(HostReport report) {
        Instant now = Instant.now();
        firstSeen.putIfAbsent(report.inventory().hostId(), now);
        hosts.put(report.inventory().hostId(), new Entry(report, now));
    }

    /** Forgets a removed host. */
    public void remove(String hostId) {
        hosts.remove(hostId);
        firstSeen.remove(hostId);
    }

    public Optional<Entry> get(String hostId) {
        return Optional.ofNullable(hosts.get(hostId));
    }

    /** True when the host reported within the timeout. */
    public boolean connected(String hostId) {
        Entry e = hosts.get(hostId);
        return e != null && e.receivedAt().isAfter(Instant.now().minus(timeout));
    }

    /** True when the host's newest report says it is shutting down (nothing may be started there). */
    public boolean shuttingDown(String hostId) {
        Entry e = hostId == null ? null : hosts.get(hostId);
        return e != null && e.inventory().shuttingDown();
    }

    /**
     * The endpoint of some connected host, for operations on the shared storage that any host can do;
     * 503 when no host is connected.
     */
    public String anyConnectedEndpoint() {
        return connectedHosts().stream().findFirst().map(e -> e.inventory().endpoint())
                .orElseThrow(() -> org.carevisor.manager.api.ApiException.unavailable("no-host",
                        "no host is connected to reach the storage; start an agent (./carevisor up starts one)"));
    }

    /**
     * The connected hosts, longest known first (then by id): a stable order, so that what "some connected host"
     * answers does not change with a map's hash order, and a host that enrolled later (a rogue one, say) is not
     * the one asked first.
     */
    public List<Entry> connectedHosts() {
        return hosts.values().stream().filter(e -> connected(e.inventory().hostId()))
                .sorted(java.util.Comparator.comparing((Entry e) -> firstSeen.getOrDefault(e.inventory().hostId(),
                        Instant.MAX)).thenComparing(e -> e.inventory().hostId())).toList();
    }

    public Collection<Entry> all() {
        return hosts.values();
    }

    public Duration timeout() {
        return timeout;
    }
}
