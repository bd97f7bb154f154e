package org.carevisor.manager.host;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import org.carevisor.protocol.HostReport;
import org.junit.jupiter.api.Test;

/** Which reports the manager takes in: a report held up in the network or by a frozen agent is not news. */
class DelayedReportTest {
    private static final Instant AGENT = Instant.parse("2026-11-22T07:30:00Z");
    /** The manager's clock runs 1 h ahead of the host's: only each clock's own differences count. */
    private static final Instant MANAGER = AGENT.plusSeconds(3600);

    /** Report {@code sequence} of the agent started at {@code agentStartedAt}, sent at second {@code sentSecond}. */
    private static HostReport report(Instant agentStartedAt, long sequence, long sentSecond) {
        return new HostReport(null, List.of(), sequence, AGENT.plusSeconds(sentSecond), agentStartedAt);
    }

    /** Report 40, sent at second 40 and received at the manager's second 40. */
    private static final HostBoard.Entry LAST = new HostBoard.Entry(report(AGENT, 40, 40), MANAGER.plusSeconds(40));

    private static String outdated(HostReport r, long receivedSecond, int heldUpInARow) {
        return ReportIngest.outdated(LAST, r, MANAGER.plusSeconds(receivedSecond), heldUpInARow);
    }

    @Test
    void theNextReportsAreNewsEvenAfterAGap() {
        assertThat(outdated(report(AGENT, 41, 41), 41, 0)).isNull();
        assertThat(outdated(report(AGENT, 52, 52), 53, 0)).as("reports lost in between").isNull();
        assertThat(outdated(report(AGENT, 41, 41), 47, 0)).as("6 s on the way: the agent still waits").isNull();
    }

    @Test
    void anOlderOrRepeatedReportOfTheSameAgentIsHistory() {
        assertThat(outdated(report(AGENT, 40, 40), 41, 0)).contains("after report 40");
        assertThat(outdated(report(AGENT, 31, 31), 41, 0)).contains("after report 40");
        assertThat(outdated(report(AGENT, 31, 31), 41, 5)).as("whatever came before").contains("after report 40");
    }

    @Test
    void aReportHeldUpLongerThanItsAgentWaitsIsHistory() {
        // sent 1 s after report 40, delivered when a cut link came back 14 s later (seen in the lab)
        assertThat(outdated(report(AGENT, 41, 41), 55, 0)).contains("held up 14.0 s");
        // the same for a report built just before the agent froze for 12 s
        assertThat(outdated(report(AGENT, 41, 41), 53, 1)).contains("held up 12.0 s");
    }

    @Test
    void aHostClockSetBackIsHeardAgainAfterAFewReports() {
        // the host's clock went back 60 s: each report looks held up 60 s, until the limit in a row is reached
        assertThat(outdated(report(AGENT, 41, -19), 41, 0)).contains("held up");
        assertThat(outdated(report(AGENT, 43, -17), 43, ReportIngest.MAX_HELD_UP_IN_A_ROW - 1)).contains("held up");
        assertThat(outdated(report(AGENT, 44, -16), 44, ReportIngest.MAX_HELD_UP_IN_A_ROW)).isNull();
    }

    @Test
    void aRestartedAgentIsAlwaysHeard() {
        assertThat(outdated(report(AGENT.plusSeconds(300), 1, 300), 341, 0)).isNull();
        assertThat(outdated(report(AGENT.minusSeconds(3600), 1, -3600), 41, 0)).as("even with its clock set back")
                .isNull();
    }
}
