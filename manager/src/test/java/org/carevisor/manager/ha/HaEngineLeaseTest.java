package org.carevisor.manager.ha;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.carevisor.manager.ha.HaEngine.Decision;
import org.carevisor.manager.ha.HaEngine.LeaseUpdate;
import org.junit.jupiter.api.Test;

/**
 * How the engine takes lease observations (already verified by {@link LeaseIntake}): unknown hosts never reach its
 * state, old counters never count as renewals, a peer's counter is bounded by the owner's own last word, what it
 * knows survives a restart, and a host or VM whose judgement fails is named while the others are judged.
 */
class HaEngineLeaseTest {
    static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

    static Instant t(long seconds) {
        return T0.plusSeconds(seconds);
    }

    static HaEngine engine(String... hosts) {
        HaEngine e = new HaEngine(HaEngine.Config.defaults());
        e.bootWindow(Duration.ZERO); // these cases judge silent hosts at once (HaBootWindowTest covers the window)
        for (String h : hosts) {
            e.host(h, false, t(0));
        }
        return e;
    }

    @Test
    void aLeaseOfAnUnknownHostIsIgnoredAndEveryPassKeepsDeciding() {
        HaEngine e = engine("h1", "h2");
        e.vm("ehr", "h1", true, 100, List.of());
        assertThat(e.lease("ghost", 5, Set.of("ehr"), t(1))).isEqualTo(LeaseUpdate.UNKNOWN_HOST);
        assertThat(e.ownLease("ghost", 5, Set.of(), t(1))).isEqualTo(LeaseUpdate.UNKNOWN_HOST);
        assertThat(e.knows("ghost")).isFalse();
        assertThat(e.hosts()).doesNotContainKey("ghost");
        for (int s = 1; s <= 30; s++) {
            e.heartbeat("h2", Set.of(), t(s));
            e.lease("h2", s, t(s));
            e.lease("ghost", s, t(s));
            List<Decision> out = e.tick(t(s));
            assertThat(out).noneMatch(d -> d.kind() == Decision.Kind.FAILED);
        }
        // h1 went silent at 0 and no lease was seen: declared dead, ehr restarted on h2
        assertThat(e.health("h1")).isEqualTo(HaEngine.Health.DEAD);
        assertThat(e.vmState("ehr").needsRestart()).isTrue();
    }

    @Test
    void aHostHeardOfOnlyByItsHeartbeatIsJudgedWithoutThrowing() {
        HaEngine e = engine("h1");
        e.heartbeat("late", Set.of(), t(1)); // never defined by host(): no fence setting, times from its heartbeat
        assertThat(e.tick(t(2))).isEmpty();
        assertThat(e.tick(t(10))).extracting(Decision::kind).contains(Decision.Kind.SUSPECT);
        assertThat(e.tick(t(30))).extracting(Decision::kind).contains(Decision.Kind.DEAD);
    }

    @Test
    void oneHostWhoseJudgementFailsIsNamedOnceAndTheOthersAreJudged() {
        HaEngine e = engine("h1", "h2", "h3");
        e.vm("pacs", "h3", true, 50, List.of());
        e.expectRunning("pacs");
        // state no input should make: h1 is fencing with no time of its request
        HaEngine.HostState broken = e.hosts().get("h1");
        broken.health = HaEngine.Health.FENCING;
        broken.fenceRequestedAt = null;
        List<Decision> first = e.tick(t(1));
        assertThat(first).filteredOn(d -> d.kind() == Decision.Kind.FAILED).singleElement()
                .satisfies(d -> assertThat(d.host()).isEqualTo("h1"))
                .satisfies(d -> assertThat(d.detail()).contains("the other hosts are judged as usual"));
        assertThat(e.tick(t(2))).as("named once, not every second").noneMatch(d -> d.kind() == Decision.Kind.FAILED);
        // h3 loses power meanwhile: still judged and its VM restarted
        for (int s = 3; s <= 30; s++) {
            e.heartbeat("h2", Set.of(), t(s));
            e.ownLease("h2", s, Set.of(), t(s));
            e.tick(t(s));
        }
        assertThat(e.health("h3")).isEqualTo(HaEngine.Health.DEAD);
        assertThat(e.vmState("pacs").restartingOn).isEqualTo("h2");
    }

    @Test
    void aPlacerThatFailsForOneVmIsContainedAndTheOtherVmsAreRestarted() {
        HaEngine e = engine("h1", "h2");
        e.vm("bad", "h1", true, 100, List.of());
        e.vm("good", "h1", true, 50, List.of());
        e.placer((vm, up) -> {
            if (vm.equals("bad")) {
                throw new IllegalStateException("placement exploded");
            }
            return up.stream().findFirst();
        });
        List<Decision> all = new java.util.ArrayList<>();
        for (int s = 1; s <= 20; s++) {
            e.heartbeat("h2", Set.of(), t(s));
            e.ownLease("h2", s, Set.of(), t(s));
            all.addAll(e.tick(t(s)));
        }
        assertThat(all).filteredOn(d -> d.kind() == Decision.Kind.FAILED).singleElement()
                .satisfies(d -> assertThat(d.vm()).isEqualTo("bad"))
                .satisfies(d -> assertThat(d.detail()).contains("placement exploded"));
        assertThat(all).anySatisfy(d -> {
            assertThat(d.kind()).isEqualTo(Decision.Kind.RESTART);
            assertThat(d.vm()).isEqualTo("good");
        });
    }

    @Test
    void onlyACounterAboveEveryOneSeenIsARenewalAndOnlyThenAreReleasesTaken() {
        HaEngine e = engine("h1", "h2");
        e.vm("ehr", "h1", true, 100, List.of());
        e.expectRunning("ehr");
        e.ownLease("h1", 100, Set.of(), t(0));
        e.heartbeat("h1", Set.of("ehr"), t(0));
        for (int s = 1; s <= 4; s++) {
            e.heartbeat("h2", Set.of(), t(s));
            e.lease("h1", 100 + s, t(s));
            e.tick(t(s));
        }
        // an old genuine lease releasing ehr, sent again: neither a renewal nor a release
        for (int s = 5; s <= 10; s++) {
            e.heartbeat("h2", Set.of(), t(s));
            assertThat(e.lease("h1", 50, Set.of("ehr"), t(s))).isEqualTo(LeaseUpdate.OLD);
            assertThat(e.lease("h1", 104, Set.of("ehr"), t(s))).isEqualTo(LeaseUpdate.OLD);
            assertThat(e.tick(t(s))).noneMatch(d -> d.kind() == Decision.Kind.RELEASED
                    || d.kind() == Decision.Kind.RESTART);
        }
        assertThat(e.hosts().get("h1").lastLeaseAdvance).isEqualTo(t(4));
        // a real renewal releasing it
        e.heartbeat("h2", Set.of(), t(11));
        assertThat(e.lease("h1", 111, Set.of("ehr"), t(11))).isEqualTo(LeaseUpdate.ADVANCED);
        assertThat(e.tick(t(11))).extracting(Decision::kind).contains(Decision.Kind.RELEASED);
    }

    @Test
    void aPeersCounterMayLeadTheOwnersOwnWordOnlyAsFarAsRenewalsCanHaveGone() {
        HaEngine e = engine("h1", "h2");
        e.ownLease("h1", 1000, Set.of(), t(0));
        long limit = 1000 + HaEngine.maxJump(Duration.ZERO);
        assertThat(e.lease("h1", Long.MAX_VALUE - 1, t(0))).isEqualTo(LeaseUpdate.TOO_FAR);
        assertThat(e.lease("h1", limit + 1, t(0))).isEqualTo(LeaseUpdate.TOO_FAR);
        assertThat(e.hosts().get("h1").leaseCounter).as("a high value does not move the counter").isEqualTo(1000);
        // the honest renewals go on counting
        assertThat(e.lease("h1", 1001, t(1))).isEqualTo(LeaseUpdate.ADVANCED);
        assertThat(e.lease("h1", 1002, t(2))).isEqualTo(LeaseUpdate.ADVANCED);
        // an hour later an isolated owner has renewed 3,600 times: that is within the bound
        assertThat(e.lease("h1", 4602, t(3600))).isEqualTo(LeaseUpdate.ADVANCED);
        // no anchor yet (a host not heard of itself since this engine started): no bound, only above-all-seen
        assertThat(e.lease("h2", 123_456, t(1))).isEqualTo(LeaseUpdate.ADVANCED);
    }

    @Test
    void anOwnerThatStartsCountingAgainIsTakenAtItsWordAndOldHighLeasesStopCounting() {
        HaEngine e = engine("h1", "h2");
        e.ownLease("h1", 5000, Set.of(), t(0));
        // its local counter and lease file were lost: it counts from 1 again
        assertThat(e.ownLease("h1", 1, Set.of(), t(1))).isEqualTo(LeaseUpdate.ADVANCED);
        assertThat(e.lease("h1", 2, t(2))).isEqualTo(LeaseUpdate.ADVANCED);
        // an old lease from before, sent again: far beyond what it can have renewed since its own word
        assertThat(e.lease("h1", 5001, t(3))).isEqualTo(LeaseUpdate.TOO_FAR);
        assertThat(e.lease("h1", 3, t(3))).isEqualTo(LeaseUpdate.ADVANCED);
    }

    @Test
    void whatIsKnownOfLeasesSurvivesARestartSoLeasesSeenBeforeNeverCountAfter() {
        HaEngine e = engine("h1", "h2");
        e.ownLease("h1", 700, Set.of(), t(0));
        e.lease("h1", 705, t(5));
        HaEngine.Snapshot s = e.snapshot();
        assertThat(s.hostLease()).containsEntry("h1", new HaEngine.LeaseMark(705, 700, t(0)));

        HaEngine fresh = engine("h1", "h2");
        fresh.restore(s, t(100));
        assertThat(fresh.lease("h1", 705, Set.of("ehr"), t(101))).isEqualTo(LeaseUpdate.OLD);
        assertThat(fresh.lease("h1", 600, t(101))).isEqualTo(LeaseUpdate.OLD);
        assertThat(fresh.lease("h1", 790, t(101))).as("h1 renewed meanwhile").isEqualTo(LeaseUpdate.ADVANCED);

        // a state saved by the previous version has no marks: restored as unknown
        HaEngine.Snapshot old = new HaEngine.Snapshot(s.hostHealth(), s.hostFenced(), s.vmHost(), s.vmRestartingOn(),
                s.vmNeedsRestart(), null);
        HaEngine older = engine("h1");
        older.restore(old, t(100));
        assertThat(older.lease("h1", 1, t(101))).isEqualTo(LeaseUpdate.ADVANCED);
    }

    @Test
    void theSavedStateReadsBackAsHaServiceStoresItAndAStateOfThePreviousVersionStillReads() throws Exception {
        HaEngine e = engine("h1", "h2");
        e.vm("ehr", "h1", true, 100, List.of());
        e.ownLease("h1", 42, Set.of(), t(3));
        var json = org.carevisor.protocol.ProtocolJson.mapper();
        HaEngine.Snapshot s = e.snapshot();
        assertThat(json.readValue(json.writeValueAsString(s), HaEngine.Snapshot.class)).isEqualTo(s);
        String previous = "{\"hostHealth\":{\"h1\":\"DEAD\"},\"hostFenced\":{\"h1\":true},\"vmHost\":{\"ehr\":\"h1\"},"
                + "\"vmRestartingOn\":{},\"vmNeedsRestart\":{\"ehr\":true}}";
        HaEngine.Snapshot old = json.readValue(previous, HaEngine.Snapshot.class);
        assertThat(old.hostLease()).isNull();
        HaEngine fresh = engine("h1");
        fresh.restore(old, t(10));
        assertThat(fresh.health("h1")).isEqualTo(HaEngine.Health.DEAD);
        assertThat(fresh.lease("h1", 1, t(11))).isEqualTo(LeaseUpdate.ADVANCED);
    }

    @Test
    void leaseMarksAloneAreSavedAtMostEveryThirtySecondsAndAnythingElseAtOnce() {
        HaEngine e = engine("h1");
        e.ownLease("h1", 1, Set.of(), t(0));
        HaEngine.Snapshot saved = e.snapshot();
        e.ownLease("h1", 2, Set.of(), t(1));
        HaEngine.Snapshot next = e.snapshot();
        assertThat(next.worthSaving(saved, t(0), t(1))).isFalse();
        assertThat(next.worthSaving(saved, t(0), t(30))).isTrue();
        assertThat(next.worthSaving(null, null, t(1))).isTrue();
        e.vm("ehr", "h1", true, 1, List.of());
        assertThat(e.snapshot().worthSaving(saved, t(0), t(1))).isTrue();
        assertThat(e.snapshot().withoutLeases().hostLease()).isNull();
    }

    @Test
    void aVmMigratedAsItsSourceReportedItGoneIsNotLostNorAStray() {
        HaEngine e = engine("h1", "h2");
        e.vm("ris", "h1", true, 40, List.of());
        e.heartbeat("h1", Set.of("ris"), t(1));
        e.heartbeat("h2", Set.of(), t(1));
        // the source's report without the VM is judged before the handed-over record is read
        assertThat(e.heartbeat("h1", Set.of(), t(2))).extracting(Decision::kind).containsExactly(Decision.Kind.LOST);
        e.vm("ris", "h2", true, 40, List.of()); // the next sync: the record says h2
        assertThat(e.heartbeat("h2", Set.of("ris"), t(3))).as("not a stray on its new host").isEmpty();
        for (int s = 3; s <= 30; s++) {
            e.heartbeat("h1", Set.of(), t(s));
            e.heartbeat("h2", Set.of("ris"), t(s));
            assertThat(e.tick(t(s))).extracting(Decision::kind).doesNotContain(Decision.Kind.RESTART,
                    Decision.Kind.STOP_STRAY, Decision.Kind.LOST);
        }
        assertThat(e.vmState("ris").needsRestart()).isFalse();
        // and were it not running there after all, h2's heartbeat without it finds it lost
        assertThat(e.heartbeat("h2", Set.of(), t(31))).extracting(Decision::kind).containsExactly(Decision.Kind.LOST);
    }
}
