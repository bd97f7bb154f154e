package org.carevisor.agent.ha;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.carevisor.protocol.HaTimings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The isolation decision with real TCP: a listening socket is a reachable peer, a closed port is not. */
class IsolationCheckTest {
    private static final IsolationCheck.Reachability TCP = IsolationCheck.tcp(Duration.ofSeconds(1));

    ServerSocket listening;
    IsolationCheck.Peer reachable;
    IsolationCheck.Peer unreachable;
    final Instant now = Instant.now();

    @BeforeEach
    void peers() throws IOException {
        listening = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        reachable = new IsolationCheck.Peer("host-b", "https://127.0.0.1:" + listening.getLocalPort());
        int closed;
        try (ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        unreachable = new IsolationCheck.Peer("host-c", "https://127.0.0.1:" + closed);
    }

    @AfterEach
    void close() throws IOException {
        listening.close();
    }

    @Test
    void managerSilentForTheIsolationTimeAndNoPeerAnswersMeansIsolated() {
        Instant last = now.minus(HaTimings.ISOLATION);
        IsolationCheck.Verdict v = IsolationCheck.assess(last, now, List.of(unreachable), TCP);
        assertThat(v.isolated()).isTrue();
        assertThat(v.silentFor()).isEqualTo(HaTimings.ISOLATION);
        assertThat(v.detail()).contains("neither the manager nor any of its 1 peer(s) for 6 s");
    }

    @Test
    void aReachablePeerMeansTheManagerIsDownNotThisHost() {
        IsolationCheck.Verdict v = IsolationCheck.assess(now.minusSeconds(60), now, List.of(unreachable, reachable),
                TCP);
        assertThat(v.isolated()).isFalse();
        assertThat(v.detail()).contains("a peer agent answers");
    }

    @Test
    void aManagerReachedRecentlyMeansNotIsolatedWithoutAskingPeers() {
        IsolationCheck.Verdict v = IsolationCheck.assess(now.minus(HaTimings.ISOLATION).plusMillis(1), now,
                List.of(unreachable), peers -> {
                    throw new AssertionError("peers must not be probed while the manager answers");
                });
        assertThat(v.isolated()).isFalse();
    }

    @Test
    void withoutAnyLivePeerNobodyCouldTakeOverSoTheHostIsNotIsolated() {
        assertThat(IsolationCheck.assess(now.minusSeconds(60), now, List.of(), TCP).isolated()).isFalse();
    }

    @Test
    void theTcpProbeAnswersPerPeerWithinItsTimeout() {
        assertThat(TCP.anyReachable(List.of(reachable))).isTrue();
        assertThat(TCP.anyReachable(List.of(unreachable))).isFalse();
        assertThat(TCP.anyReachable(List.of(new IsolationCheck.Peer("host-d", "not a uri at all")))).isFalse();
        // an address that does not answer at all (TEST-NET-1): the probe gives up after its timeout
        long t0 = System.nanoTime();
        assertThat(TCP.anyReachable(List.of(new IsolationCheck.Peer("host-e", "https://192.0.2.1:7701"),
                unreachable))).isFalse();
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(3));
    }
}
