package org.carevisor.agent.vm;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.carevisor.protocol.MigrationStatus;
import org.junit.jupiter.api.Test;

/** query-migrate answers of QEMU 7.2 (recorded on this project's lab) turned into the protocol's status. */
class MigrationInfoTest {
    @Test
    void readsActiveCompletedAndFailed() throws Exception {
        ObjectMapper json = new ObjectMapper();
        MigrationStatus active = MigrationInfo.from("vm", json.readTree("""
                {"status":"active","setup-time":1,"total-time":420,"expected-downtime":300,
                 "ram":{"total":537665536,"transferred":41943040,"remaining":20971520,"dirty-pages-rate":2500,
                        "dirty-sync-count":2,"mbps":800.5}}"""), null);
        assertThat(active.status()).isEqualTo("active");
        assertThat(active.finished()).isFalse();
        assertThat(active.transferredBytes()).isEqualTo(41943040);
        assertThat(active.passes()).isEqualTo(2);
        assertThat(active.expectedDowntimeMs()).isEqualTo(300);
        assertThat(active.downtimeMs()).isNull();

        MigrationStatus done = MigrationInfo.from("vm", json.readTree("""
                {"status":"completed","setup-time":1,"downtime":36,"total-time":1442,
                 "ram":{"total":537665536,"transferred":104265496,"remaining":0,"dirty-sync-count":3}}"""), null);
        assertThat(done.finished()).isTrue();
        assertThat(done.downtimeMs()).isEqualTo(36);
        assertThat(done.totalTimeMs()).isEqualTo(1442);

        MigrationStatus failed = MigrationInfo.from("vm", json.readTree("""
                {"status":"failed","error-desc":"Unable to write to socket: Bad file descriptor"}"""), null);
        assertThat(failed.finished()).isTrue();
        assertThat(failed.error()).contains("Bad file descriptor");
        assertThat(MigrationInfo.from("vm", json.readTree("{}"), null).status()).isEqualTo("none");
    }

    @Test
    void aCompletedAnswerWithoutFiguresIsNotReadyYet() throws Exception {
        ObjectMapper json = new ObjectMapper();
        // QEMU 7.2 between migrate_set_state(COMPLETED) and migration_calculate_complete(): the state and the
        // event say completed, total-time and downtime are still 0 (seen in CI as "guest paused 0 ms").
        assertThat(MigrationInfo.figuresReady(json.readTree("""
                {"status":"completed","setup-time":0,"downtime":0,"total-time":0,"ram":{"total":268967936}}""")))
                .isFalse();
        assertThat(MigrationInfo.figuresReady(json.readTree("""
                {"status":"completed","setup-time":0,"downtime":3,"total-time":20}"""))).isTrue();
        assertThat(MigrationInfo.figuresReady(json.readTree("""
                {"status":"active","total-time":0}"""))).isTrue();
        assertThat(MigrationInfo.figuresReady(json.readTree("{\"status\":\"failed\"}"))).isTrue();
    }
}
