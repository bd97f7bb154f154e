package org.carevisor.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/**
 * Signing and verifying storage leases with real EC P-256 keys: the canonical text, a signature that verifies only
 * with the signer's key and only over the very text signed, and the lenient reading agents use for their peers.
 */
class SignedLeaseTest {
    private static final String HOST = "3f6c1a2e-0000-4000-8000-000000000001";
    private static final String VM1 = "a1a1a1a1-0000-4000-8000-000000000001";
    private static final String VM2 = "a1a1a1a1-0000-4000-8000-000000000002";
    private static final KeyPair OWNER = keys();
    private static final KeyPair OTHER = keys();

    static KeyPair keys() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    static SignedLease lease(long counter, List<SignedLease.Released> released) {
        return new SignedLease(HOST, counter, Instant.ofEpochMilli(1767225600123L), SignedLease.AGENT, released,
                "https://10.0.0.1:7701");
    }

    @Test
    void theSignedTextIsTheDocumentedCanonicalFormAndVerifiesWithTheOwnersKey() throws Exception {
        SignedLease l = lease(1234, List.of(new SignedLease.Released(VM1, 1767225000000L),
                new SignedLease.Released(VM2, 5)));
        String text = l.sign(OWNER.getPrivate());
        List<String> lines = text.lines().toList();
        assertThat(lines.subList(0, 8)).containsExactly("carevisor-lease=1", "host=" + HOST, "counter=1234",
                "written=1767225600123", "writer=agent", "released=" + VM1 + "," + VM2,
                "released-runs=" + VM1 + "@1767225000000," + VM2 + "@5", "endpoint=https://10.0.0.1:7701");
        assertThat(lines).hasSize(9);
        assertThat(lines.get(8)).startsWith("signature=");
        assertThat(text).startsWith(l.body());
        assertThat(SignedLease.verify(text, OWNER.getPublic())).isEqualTo(l);
        // ECDSA signatures differ each time; each verifies
        assertThat(l.sign(OWNER.getPrivate())).isNotEqualTo(text);
        assertThat(SignedLease.verify(l.sign(OWNER.getPrivate()), OWNER.getPublic())).isEqualTo(l);
    }

    @Test
    void anotherHostsKeyDoesNotVerify() {
        String text = lease(7, List.of()).sign(OTHER.getPrivate());
        assertThatThrownBy(() -> SignedLease.verify(text, OWNER.getPublic())).isInstanceOf(SignedLease.Invalid.class)
                .hasMessageContaining("does not verify").extracting(e -> ((SignedLease.Invalid) e).code())
                .isEqualTo("lease-signature-invalid");
    }

    @Test
    void tamperedTextDoesNotVerify() {
        String text = lease(7, List.of()).sign(OWNER.getPrivate());
        for (String forged : List.of(
                text.replace("counter=7", "counter=9223372036854775807"),
                text.replace("released=\n", "released=" + VM1 + "\n").replace("released-runs=\n",
                        "released-runs=" + VM1 + "@0\n"),
                text.replace("writer=agent", "writer=keeper"),
                text.replace("host=" + HOST, "host=" + HOST.replace('1', '2')))) {
            assertThat(forged).isNotEqualTo(text);
            assertThatThrownBy(() -> SignedLease.verify(forged, OWNER.getPublic())).as(forged)
                    .isInstanceOf(SignedLease.Invalid.class).hasMessageContaining("does not verify");
        }
    }

    @Test
    void unsignedTruncatedOrNonCanonicalTextIsRefusedWithItsReason() throws Exception {
        SignedLease l = lease(7, List.of());
        String text = l.sign(OWNER.getPrivate());
        assertThat(code(l.body())).isEqualTo("lease-unsigned");
        assertThat(code(null)).isEqualTo("lease-unsigned");
        assertThat(code("")).isEqualTo("lease-unsigned");
        assertThat(code(text.substring(0, text.length() - 1))).isEqualTo("lease-malformed"); // no final line break
        assertThat(code(text.replace("signature=", "signature=!!"))).isEqualTo("lease-malformed");
        assertThat(code(text + "extra=1\n")).isEqualTo("lease-malformed");
        // a body that the owner signed but that is not canonical (a comment, an extra key) is not taken
        String odd = "# hand made\n" + l.body();
        assertThat(code(signedBody(odd))).isEqualTo("lease-malformed");
        assertThat(code(signedBody(l.body() + "released=" + VM1 + "\n"))).isEqualTo("lease-malformed");
        assertThat(code("x".repeat(SignedLease.MAX_TEXT + 1))).isEqualTo("lease-malformed");
        // a signature line in the middle is not the signature
        assertThat(code(text + "counter=8\n")).isEqualTo("lease-malformed");
    }

    private static String signedBody(String body) throws Exception {
        java.security.Signature s = java.security.Signature.getInstance("SHA256withECDSA");
        s.initSign(OWNER.getPrivate());
        s.update(body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return body + "signature=" + java.util.Base64.getEncoder().encodeToString(s.sign()) + "\n";
    }

    private static String code(String text) {
        try {
            SignedLease.verify(text, OWNER.getPublic());
            return "verified";
        } catch (SignedLease.Invalid e) {
            return e.code();
        }
    }

    @Test
    void agentsReadPeersLenientlyIncludingLeasesOfTheOlderFormat() {
        SignedLease old = SignedLease.parse("# written by hand\nhost=h\n\ncounter=7\nwritten=1000\nreleased=v1,v2\n"
                + "future=x\n");
        assertThat(old).isEqualTo(new SignedLease("h", 7, Instant.ofEpochMilli(1000), "agent",
                List.of(new SignedLease.Released("v1", 0), new SignedLease.Released("v2", 0)), null));
        SignedLease full = lease(9, List.of(new SignedLease.Released(VM1, 3)));
        assertThat(SignedLease.parse(full.sign(OWNER.getPrivate()))).isEqualTo(full);
        assertThat(full.seen("t")).isEqualTo(new LeaseSeen(HOST, 9, full.writtenAt(), "agent", List.of(VM1), "t"));
        assertThatThrownBy(() -> SignedLease.parse("host=h\ncounter=1\n")).hasMessageContaining("written");
        assertThatThrownBy(() -> SignedLease.parse("host=h\ncounter=-1\nwritten=1\n")).hasMessageContaining("counter");
        assertThatThrownBy(() -> SignedLease.parse("host=h\ncounter=1\nwritten=1\njunk\n"))
                .hasMessageContaining("key=value");
        assertThatThrownBy(() -> SignedLease.parse("host=h\ncounter=1\nwritten=1\nreleased=a\nreleased-runs=b@1\n"))
                .hasMessageContaining("different VMs");
    }

    @Provide
    Arbitrary<Integer> positions() {
        return Arbitraries.integers().between(0, 10_000);
    }

    @Property(tries = 300)
    void changingAnyOneCharacterOfASignedLeaseMakesItFailToVerify(@ForAll("positions") int position,
                                                                   @ForAll char replacement) {
        String text = lease(42, List.of(new SignedLease.Released(VM1, 77))).sign(OWNER.getPrivate());
        int i = position % text.length();
        if (text.charAt(i) == replacement) {
            return;
        }
        String forged = text.substring(0, i) + replacement + text.substring(i + 1);
        assertThat(code(forged)).as("changed at %d to %s", i, replacement).isNotEqualTo("verified");
    }
}
