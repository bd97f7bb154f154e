package org.carevisor.manager.host;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import org.carevisor.protocol.HostReport;
import org.junit.jupiter.api.Test;

/** Which reports the manager takes in: a report held up in the network must not overwrite newer news. */
class DelayedReportTest {
    private static final Instant AGENT = Instant.parse("2026-11-22T07:30:00Z");

    private static HostReport report(Instant agentStartedAt, long sequence) {
        return new HostReport(null, List.of(), sequence, agentStartedAt.plusSeconds(sequence), agentStartedAt);
    }

    @Test
    void anOlderOrRepeatedReportOfTheSameAgentIsDelayed() {
        HostReport last = report(AGENT, 40);
        assertThat(ReportIngest.delayed(last, report(AGENT, 41))).isFalse();
        assertThat(ReportIngest.delayed(last, report(AGENT, 52))).as("gaps are normal: lost reports").isFalse();
        assertThat(ReportIngest.delayed(last, report(AGENT, 40))).as("the same report twice").isTrue();
        assertThat(ReportIngest.delayed(last, report(AGENT, 31))).as("held up during a network cut").isTrue();
    }

    @Test
    void aRestartedAgentStartsItsSequenceAgain() {
        HostReport last = report(AGENT, 40);
        assertThat(ReportIngest.delayed(last, report(AGENT.plusSeconds(300), 1))).isFalse();
        // even with the host's clock set back in between: a new agent process is always heard
        assertThat(ReportIngest.delayed(last, report(AGENT.minusSeconds(3600), 1))).isFalse();
    }
}
