package org.carevisor.manager.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.junit.jupiter.api.Test;

/** Addresses: parsing, blocks, and the checks of a new network (no database needed for refusals). */
class NetworkServiceTest {
    @Test
    void parsesAndFormatsAddresses() {
        assertThat(Ipv4.format(Ipv4.parse("10.77.0.100"))).isEqualTo("10.77.0.100");
        assertThat(Ipv4.parse("10.77.0.256")).isNegative();
        assertThat(Ipv4.parse("10.077.0.1")).isNegative();
        assertThat(Ipv4.parse("a.b.c.d")).isNegative();
        Ipv4.Block b = Ipv4.block("10.77.0.0/24");
        assertThat(b.contains(Ipv4.parse("10.77.0.99"))).isTrue();
        assertThat(b.contains(Ipv4.parse("10.78.0.99"))).isFalse();
        assertThat(Ipv4.format(b.broadcast())).isEqualTo("10.77.0.255");
        assertThat(Ipv4.block("10.77.0.1/24")).as("not a network address").isNull();
        assertThat(Ipv4.block("10.77.0.0/31")).isNull();
    }

    @Test
    void refusesBadNetworksNamingEveryField() {
        NetworkService s = new NetworkService(null, null);
        assertThatThrownBy(() -> s.create(new NetworkService.Create("Bad Name", "user", "br 0", "10.0.0.1/24", null,
                null, null, null), Actor.system("test"))).isInstanceOfSatisfying(ApiException.class, e ->
                assertThat(e.errors()).extracting(ApiException.FieldError::field)
                        .containsExactlyInAnyOrder("name", "kind", "bridge", "cidr"));
        assertThatThrownBy(() -> s.create(new NetworkService.Create("lab", "bridge", "cvlab0", "10.77.0.0/24",
                "10.77.0.150", "10.77.0.100", "10.77.0.199", null), Actor.system("test")))
                .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.errors())
                        .extracting(ApiException.FieldError::field).containsExactly("gateway"));
        assertThatThrownBy(() -> s.create(new NetworkService.Create("lab", "bridge", "cvlab0", "10.77.0.0/24",
                "10.77.0.1", "10.77.0.200", "10.77.1.5", null), Actor.system("test")))
                .hasMessageContaining("poolFrom and poolTo must be host addresses inside 10.77.0.0/24");
    }
}
