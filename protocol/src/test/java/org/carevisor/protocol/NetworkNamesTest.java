package org.carevisor.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * The validators of everything address-like that crosses the wire between manager and agents: host addresses,
 * migration URIs (the only thing that reaches QEMU's {@code migrate}) and agent endpoints.
 */
class NetworkNamesTest {
    /** Characters that must never survive into a migration URI or an endpoint's host. */
    private static final String DANGEROUS = ",;|&$`'\" /\\\t\n\r%@?#!*()<>{}=";

    @Provide
    Arbitrary<String> ipv4() {
        return Arbitraries.integers().between(1, 223).flatMap(a -> Arbitraries.integers().between(0, 255).list()
                .ofSize(3).map(rest -> a + "." + rest.get(0) + "." + rest.get(1) + "." + rest.get(2)));
    }

    @Provide
    Arbitrary<String> dnsName() {
        Arbitrary<String> label = Arbitraries.strings().withChars("abcdefghijklmnopqrstuvwxyz0123456789").ofMinLength(1)
                .ofMaxLength(20);
        return label.list().ofMinSize(1).ofMaxSize(4).map(l -> String.join(".", l) + ".example");
    }

    @Provide
    Arbitrary<String> anything() {
        return Arbitraries.oneOf(Arbitraries.strings().ofMaxLength(80), Arbitraries.strings()
                .withChars("tcpexfilunx:[]0123456789.,;/ab-" + DANGEROUS).ofMaxLength(60));
    }

    @Property
    void everyValidIpv4RoundTripsThroughAMigrationUri(@ForAll("ipv4") String ip,
                                                     @ForAll @IntRange(min = 1024, max = 65535) int port) {
        MigrationUri uri = MigrationUri.parse("tcp:" + ip + ":" + port);
        assertThat(uri.host().kind()).isEqualTo(HostAddress.Kind.IPV4);
        assertThat(uri.toString()).isEqualTo("tcp:" + ip + ":" + port);
        assertThat(MigrationUri.parse(uri.toString())).isEqualTo(uri);
    }

    @Property
    void dnsNamesAreCanonicalInLowerCase(@ForAll("dnsName") String name) {
        HostAddress a = HostAddress.parse(name.toUpperCase(java.util.Locale.ROOT));
        assertThat(a.value()).isEqualTo(name);
        assertThat(a.kind()).isEqualTo(HostAddress.Kind.DNS);
        assertThat(AgentEndpoint.parse("https://" + name + ":7701").host()).isEqualTo(a);
    }

    @Property(tries = 2000)
    void whatEverParsesIsHarmless(@ForAll("anything") String text) {
        try {
            MigrationUri uri = MigrationUri.parse(text);
            assertThat(uri.toString()).startsWith("tcp:");
            assertThat(uri.host().value()).doesNotContainAnyWhitespaces();
            for (char c : DANGEROUS.toCharArray()) {
                assertThat(uri.host().value()).doesNotContain(String.valueOf(c));
            }
            assertThat(uri.port()).isBetween(1024, 65535);
            assertThat(MigrationUri.parse(uri.toString())).isEqualTo(uri);
        } catch (IllegalArgumentException refused) {
            assertThat(refused.getMessage()).isNotBlank();
        }
        try {
            HostAddress a = HostAddress.parse(text);
            assertThat(a.value()).matches("[0-9a-z.:-]+");
            assertThat(HostAddress.parse(a.value())).isEqualTo(a);
        } catch (IllegalArgumentException refused) {
            assertThat(refused.getMessage()).isNotBlank();
        }
    }

    @Property
    void noOtherSchemeIsAMigrationUri(@ForAll("scheme") String scheme, @ForAll("anything") String rest) {
        assertThatThrownBy(() -> MigrationUri.parse(scheme + rest)).isInstanceOf(IllegalArgumentException.class);
    }

    @Provide
    Arbitrary<String> scheme() {
        return Arbitraries.of("exec:", "file:", "unix:", "fd:", "rdma:", "vsock:", "TCP:", "tcp ", " tcp:", "x-rdma:",
                "channel:", "tcp;");
    }

    @Example
    void theAttacksOfFindingSixAreRefused() {
        for (String uri : new String[] {"exec:touch /tmp/canary", "exec:sh -c 'cat /etc/shadow'",
            "file:/var/lib/carevisor/x", "unix:/run/qemu.sock", "fd:3", "tcp:10.0.0.1:4444,ipv4=on",
            "tcp:10.0.0.1:4444;exec:x", "tcp:10.0.0.1", "tcp:10.0.0.1:80", "tcp:10.0.0.1:70000", "tcp::4444",
            "tcp:0.0.0.0:4444", "tcp:[::ffff:10.0.0.1]:4444", "tcp:[fe80::1%eth0]:4444", "tcp:::1:4444",
            "tcp:a_b:4444", "tcp:010.0.0.1:4444", "tcp:1.2.3:4444", "tcp:host.:4444", "tcp:-x:4444"}) {
            assertThatThrownBy(() -> MigrationUri.parse(uri)).as(uri).isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(MigrationUri.parse("tcp:[::1]:49152").toString()).isEqualTo("tcp:[0:0:0:0:0:0:0:1]:49152");
        assertThat(MigrationUri.parse("tcp:Lab-H2.Example:49152").host().value()).isEqualTo("lab-h2.example");
    }

    @Example
    void endpointsAreHttpsAddressAndPortOnly() {
        AgentEndpoint e = AgentEndpoint.parse("https://10.77.1.11:7701/");
        assertThat(e.toString()).isEqualTo("https://10.77.1.11:7701");
        for (String bad : new String[] {"http://10.0.0.1:7701", "https://10.0.0.1", "https://u:p@10.0.0.1:7701",
            "https://10.0.0.1:7701/x", "https://10.0.0.1:7701?a", "https://10.0.0.1:7701#f", "https://10.0.0.1:0",
            "https://10.0.0.1:65536", "https://:7701", "https://10.0.0.1:77a", "https://1:2:3:7701", null}) {
            assertThatThrownBy(() -> AgentEndpoint.parse(bad)).as(String.valueOf(bad))
                    .isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(AgentEndpoint.parse("https://[::1]:7701").host().loopback()).isTrue();
        assertThat(HostAddress.parse("127.0.0.1").sharedLoopback()).isTrue();
        assertThat(HostAddress.parse("127.0.0.2").sharedLoopback()).isFalse();
        assertThat(HostAddress.parse("127.0.0.2").loopback()).isTrue();
        assertThat(HostAddress.parse("LOCALHOST").sharedLoopback()).isTrue();
    }

    @Property
    void anEndpointsHostIsWhatACertificateMayName(@ForAll("ipv4") String ip, @ForAll @IntRange(min = 1, max = 65535)
            int port) {
        AgentEndpoint e = AgentEndpoint.parse("https://" + ip + ":" + port);
        assertThat(e.host().value()).isEqualTo(ip);
        assertThat(e.port()).isEqualTo(port);
        assertThat(AgentEndpoint.parse(e.toString())).isEqualTo(e);
    }

    @Provide
    Arbitrary<String> ipv6() {
        return Arbitraries.integers().between(1, 0xfeff).list().ofSize(8).map(g -> String.join(":",
                g.stream().map(Integer::toHexString).toList()));
    }

    @Property
    void ipv6LiteralsAreCanonical(@ForAll("ipv6") String ip) {
        HostAddress a = HostAddress.parse("[" + ip.toUpperCase(java.util.Locale.ROOT) + "]");
        assertThat(a.kind()).isEqualTo(HostAddress.Kind.IPV6);
        assertThat(HostAddress.parse(a.value())).isEqualTo(a);
        assertThat(MigrationUri.parse("tcp:" + a.uriForm() + ":50000").host()).isEqualTo(a);
    }

}
