package org.carevisor.manager.ha;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Keys;
import org.carevisor.protocol.LeaseSeen;
import org.carevisor.protocol.SignedLease;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lease intake with host certificates of a real CA (Bouncy Castle, EC P-256): only a lease signed with the key
 * of the certificate of the host it names counts; forged, tampered, unsigned, other hosts' and unknown hosts'
 * leases count for nothing and are refused once per episode; a release counts only for the run last seen there.
 */
class LeaseIntakeTest {
    static final String H1 = "11111111-0000-4000-8000-000000000001";
    static final String H2 = "22222222-0000-4000-8000-000000000002";
    static final String VM = "aaaaaaaa-0000-4000-8000-00000000000a";
    static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

    @TempDir
    static Path dir;
    static CertificateAuthority ca;
    static KeyPair k1;
    static KeyPair k2;
    static KeyPair k1Again;
    static X509Certificate c1;
    static X509Certificate c2;
    static X509Certificate c1Again;

    final Map<String, X509Certificate> certs = new HashMap<>();
    final Map<String, Map.Entry<String, Long>> runs = new HashMap<>();
    final List<LeaseIntake.Refusal> refused = new ArrayList<>();
    HaEngine engine;
    LeaseIntake intake;

    @BeforeAll
    static void pki() throws Exception {
        ca = CertificateAuthority.loadOrCreate(dir.resolve("pki"), "Test CA");
        k1 = Keys.generate();
        k2 = Keys.generate();
        k1Again = Keys.generate();
        c1 = ca.issue(k1.getPublic(), "host:" + H1, List.of("10.0.0.1"), Duration.ofDays(1));
        c2 = ca.issue(k2.getPublic(), "host:" + H2, List.of("10.0.0.2"), Duration.ofDays(1));
        c1Again = ca.issue(k1Again.getPublic(), "host:" + H1, List.of("10.0.0.1"), Duration.ofDays(1));
    }

    @BeforeEach
    void setUp() {
        certs.put(H1, c1);
        certs.put(H2, c2);
        engine = new HaEngine(HaEngine.Config.defaults());
        engine.host(H1, false, T0);
        engine.host(H2, false, T0);
        intake = new LeaseIntake(id -> Optional.ofNullable(certs.get(id)).map(c -> new HostKeys.HostKey(id,
                c.getSerialNumber().toString(16), c.getPublicKey())),
                (vm, host) -> Optional.ofNullable(runs.get(vm)).filter(e -> e.getKey().equals(host))
                        .map(e -> OptionalLong.of(e.getValue())).orElse(OptionalLong.empty()),
                refused::add);
    }

    static SignedLease lease(String host, long counter, SignedLease.Released... released) {
        return new SignedLease(host, counter, T0, SignedLease.AGENT, List.of(released), "https://10.0.0.1:7701");
    }

    static LeaseSeen seen(String host, String text) {
        SignedLease parsed = SignedLease.parse(text);
        return new LeaseSeen(host, parsed.counter(), parsed.writtenAt(), parsed.writer(), parsed.releasedIds(), text);
    }

    private void report(String reporter, LeaseSeen... leases) {
        intake.accept(reporter, List.of(leases), engine, T0.plusSeconds(1));
    }

    private long counter(String host) {
        return engine.hosts().get(host).leaseCounter;
    }

    private List<String> codes() {
        return refused.stream().map(LeaseIntake.Refusal::code).toList();
    }

    @Test
    void aLeaseSignedByItsOwnerCountsAndAnOwnersOwnReportAnchorsIt() {
        report(H1, seen(H1, lease(H1, 40).sign(k1.getPrivate())));
        assertThat(counter(H1)).isEqualTo(40);
        assertThat(engine.hosts().get(H1).anchorCounter).isEqualTo(40);
        report(H2, seen(H1, lease(H1, 41).sign(k1.getPrivate())));
        assertThat(counter(H1)).isEqualTo(41);
        assertThat(engine.hosts().get(H1).anchorCounter).as("a peer's observation is no anchor").isEqualTo(40);
        assertThat(refused).isEmpty();
    }

    @Test
    void aLeaseForgedWithAnotherHostsKeyCountsForNothing() {
        report(H2, seen(H1, lease(H1, Long.MAX_VALUE - 1, new SignedLease.Released(VM, 5)).sign(k2.getPrivate())));
        assertThat(counter(H1)).isEqualTo(-1);
        assertThat(engine.hosts().get(H1).released).isEmpty();
        assertThat(refused).singleElement().satisfies(r -> {
            assertThat(r.reporter()).isEqualTo(H2);
            assertThat(r.named()).isEqualTo(H1);
            assertThat(r.code()).isEqualTo("lease-signature-invalid");
            assertThat(r.detail()).contains("does not verify", "counts for nothing");
        });
    }

    @Test
    void aLeaseIsVerifiedWithTheCertificateOfTheHostItIsReportedForNotAnotherHosts() {
        // h1's genuine lease reported as h2's: verified with h2's certificate, it fails
        report(H1, seen(H2, lease(H1, 9).sign(k1.getPrivate())));
        // h1 signing a lease that names h2, reported as h1's: it verifies, but it is not h1's lease
        report(H1, seen(H1, lease(H2, 9).sign(k1.getPrivate())));
        assertThat(counter(H1)).isEqualTo(-1);
        assertThat(counter(H2)).isEqualTo(-1);
        assertThat(codes()).containsExactly("lease-signature-invalid", "lease-host-mismatch");
    }

    @Test
    void tamperedUnsignedAndMalformedLeasesCountForNothingEachRefusedWithItsReason() {
        String genuine = lease(H1, 9).sign(k1.getPrivate());
        report(H2, seen(H1, genuine.replace("counter=9", "counter=99")));
        report(H2, seen(H1, lease(H1, 10).body()));
        report(H2, new LeaseSeen(H1, 11, T0, "agent", List.of(VM))); // an older agent's report: no text at all
        report(H2, seen(H1, genuine.replace("signature=", "signature=*")));
        assertThat(counter(H1)).isEqualTo(-1);
        assertThat(codes()).containsExactly("lease-signature-invalid", "lease-unsigned", "lease-malformed");
        assertThat(refused).allSatisfy(r -> assertThat(r.reporter()).isEqualTo(H2));
    }

    @Test
    void afterAReEnrollmentLeasesSignedWithTheOldKeyNoLongerCount() {
        certs.put(H1, c1Again);
        report(H2, seen(H1, lease(H1, 9).sign(k1.getPrivate())));
        assertThat(counter(H1)).isEqualTo(-1);
        report(H2, seen(H1, lease(H1, 10).sign(k1Again.getPrivate())));
        assertThat(counter(H1)).isEqualTo(10);
        assertThat(codes()).containsExactly("lease-signature-invalid");
    }

    @Test
    void aHostEnrolledAgainAMomentAgoIsVerifiedWithItsNewKeyBeforeTheCacheExpires() {
        // the cached key is still the old certificate's; read afresh it is the new one
        LeaseIntake.Keys stale = new LeaseIntake.Keys() {
            @Override
            public Optional<HostKeys.HostKey> of(String hostId) {
                return Optional.of(new HostKeys.HostKey(hostId, c1.getSerialNumber().toString(16), c1.getPublicKey()));
            }

            @Override
            public Optional<HostKeys.HostKey> fresh(String hostId) {
                return Optional.of(new HostKeys.HostKey(hostId, c1Again.getSerialNumber().toString(16),
                        c1Again.getPublicKey()));
            }
        };
        intake = new LeaseIntake(stale, (vm, host) -> OptionalLong.empty(), refused::add);
        report(H2, seen(H1, lease(H1, 10).sign(k1Again.getPrivate())));
        assertThat(counter(H1)).isEqualTo(10);
        assertThat(refused).isEmpty();
    }

    @Test
    void aLeaseOfAnUnknownHostNeverReachesTheEngineAndIsRefusedOncePerReporter() {
        for (int i = 0; i < 5; i++) {
            String ghost = "99999999-0000-4000-8000-00000000000" + i;
            report(H2, seen(ghost, lease(ghost, 1).sign(k2.getPrivate())));
        }
        report(H2, seen("not even a uuid", lease("x", 1).sign(k2.getPrivate())));
        assertThat(engine.hosts()).containsOnlyKeys(H1, H2);
        assertThat(engine.tick(T0.plusSeconds(2))).as("nothing but the hosts waited for (none heartbeated)")
                .allMatch(d -> d.kind() == HaEngine.Decision.Kind.BOOTING);
        assertThat(refused).singleElement().satisfies(r -> {
            assertThat(r.code()).isEqualTo("lease-unknown-host");
            assertThat(r.named()).isNull();
            assertThat(r.detail()).contains("99999999-0000-4000-8000-000000000000", "does not know");
        });
        report(H1, seen("99999999-0000-4000-8000-000000000009", lease(H1, 1).sign(k1.getPrivate())));
        assertThat(refused).as("another reporter: its own episode").hasSize(2);
    }

    @Test
    void withoutACertificateOfTheHostItsLeaseCannotBeVerifiedAndCountsForNothing() {
        certs.remove(H1);
        report(H2, seen(H1, lease(H1, 3).sign(k1.getPrivate())));
        assertThat(counter(H1)).isEqualTo(-1);
        assertThat(codes()).containsExactly("lease-no-certificate");
    }

    @Test
    void aReleaseCountsOnlyForTheRunLastSeenOnThatHost() {
        runs.put(VM, Map.entry(H1, 1000L));
        report(H2, seen(H1, lease(H1, 5, new SignedLease.Released(VM, 999)).sign(k1.getPrivate())));
        assertThat(counter(H1)).isEqualTo(5);
        assertThat(engine.hosts().get(H1).released).as("an earlier run").isEmpty();
        report(H2, seen(H1, lease(H1, 6, new SignedLease.Released(VM, 1000)).sign(k1.getPrivate())));
        assertThat(engine.hosts().get(H1).released).containsExactly(VM);
        runs.put(VM, Map.entry(H2, 1000L)); // it runs on h2 now (restarted there)
        report(H2, seen(H1, lease(H1, 7, new SignedLease.Released(VM, 1000)).sign(k1.getPrivate())));
        assertThat(engine.hosts().get(H1).released).isEmpty();
        assertThat(refused).isEmpty();
    }

    @Test
    void refusalsAreReportedOncePerEpisodeAndAgainAfterAQuietMinute() {
        String forged = lease(H1, 50).sign(k2.getPrivate());
        for (int s = 0; s < 50; s++) {
            intake.accept(H2, List.of(seen(H1, forged)), engine, T0.plusSeconds(s));
        }
        assertThat(refused).hasSize(1);
        intake.accept(H2, List.of(seen(H1, lease(H1, 51).body())), engine, T0.plusSeconds(50));
        assertThat(codes()).as("another reason: another episode").containsExactly("lease-signature-invalid",
                "lease-unsigned");
        intake.accept(H2, List.of(seen(H1, forged)), engine, T0.plusSeconds(49 + 61));
        assertThat(refused).hasSize(3);
    }

    @Test
    void aCounterJumpBeyondTheOwnersWordIsRefusedAndTheHonestCounterGoesOn() {
        intake.accept(H1, List.of(seen(H1, lease(H1, 100).sign(k1.getPrivate()))), engine, T0);
        // a genuine but implausible lease (say, from before the host started counting again)
        intake.accept(H2, List.of(seen(H1, lease(H1, 100_000).sign(k1.getPrivate()))), engine, T0.plusSeconds(1));
        assertThat(counter(H1)).isEqualTo(100);
        assertThat(codes()).containsExactly("lease-counter-jump");
        intake.accept(H2, List.of(seen(H1, lease(H1, 101).sign(k1.getPrivate()))), engine, T0.plusSeconds(1));
        assertThat(counter(H1)).isEqualTo(101);
        assertThat(engine.hosts().get(H1).released).isEqualTo(Set.of());
    }
}
