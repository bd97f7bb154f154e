package org.carevisor.manager.host;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.HostReport;
import org.junit.jupiter.api.Test;

/** The connected hosts come longest known first, whatever their ids hash to; a removed host starts over. */
class HostBoardOrderTest {
    private static HostReport report(String id) {
        HostInventory inv = new HostInventory(id, "host-" + id, "https://127.0.0.1:7701", 2, "cpu", 4096, 3000, "/srv",
                100, 50, "7.2", "tcg", List.of(), false, "dev", 1, "d-1", 0, List.of("qemu64"), List.of(),
                "127.0.0.1", 49152, 49215);
        return new HostReport(inv, List.of(), 1, Instant.now(), Instant.now());
    }

    private static List<String> order(HostBoard board) {
        return board.connectedHosts().stream().map(e -> e.inventory().hostId()).toList();
    }

    @Test
    void longestKnownFirstWhateverTheIds() throws Exception {
        HostBoard board = new HostBoard(Duration.ofMinutes(1));
        List<String> ids = List.of("ffff", "0000", "8888", "1234", "zz", "a");
        for (String id : ids) {
            board.put(report(id));
            Thread.sleep(2);
        }
        // later reports of the first hosts do not move them
        board.put(report("ffff"));
        board.put(report("0000"));
        assertThat(order(board)).containsExactlyElementsOf(ids);
        assertThat(board.anyConnectedEndpoint()).isEqualTo("https://127.0.0.1:7701");

        board.remove("ffff");
        Thread.sleep(2);
        board.put(report("ffff"));
        assertThat(order(board)).containsExactly("0000", "8888", "1234", "zz", "a", "ffff");
    }
}
