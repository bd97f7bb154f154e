package org.carevisor.manager.ha.fence;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.db.Database;
import org.carevisor.manager.ha.FenceConfig;
import org.carevisor.manager.ha.HaRepository;
import org.carevisor.manager.ha.HaSettings;
import org.carevisor.manager.host.HostRecord;
import org.carevisor.manager.host.HostRepository;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.protocol.HostInventory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Fence agent settings are checked when they are set (a 400 naming the field, nothing stored), not when a
 * host must be fenced; the lab fence agent exists only for a manager in lab mode. Against a real H2 database.
 */
class FenceSettingsTest {
    static Path dir;
    static Database db;
    static HaSettings production;
    static HaSettings lab;
    static HaRepository repo;
    static AuditLog audit;
    static HostRecord host;

    @BeforeAll
    static void open() throws Exception {
        dir = Files.createTempDirectory("fence-settings");
        db = Database.open(Database.h2Url(dir), null, null);
        repo = new HaRepository(db.jdbi(), org.carevisor.manager.secrets.SecretBox.open(dir.resolve(
                "keys/secrets.key"), java.util.Set.of()));
        audit = new AuditLog(db.jdbi());
        production = new HaSettings(repo, new VmRepository(db.jdbi()), false);
        lab = new HaSettings(repo, new VmRepository(db.jdbi()), true);
        HostRepository hosts = new HostRepository(db.jdbi());
        String id = "00000000-0000-4000-8000-00000000000a";
        hosts.upsert(new HostInventory(id, "bmc-host", "https://10.0.0.1:7701", 2, "cpu", 4096, 4000, "/s", 1, 1,
                "7.2", "tcg", List.of(), false, "dev", 1, null, 0, List.of(), List.of(), null, 0, 0), Instant.now());
        host = hosts.find(id).orElseThrow();
    }

    @AfterAll
    static void close() throws Exception {
        db.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static final Actor ADMIN = Actor.user("admin", "127.0.0.1");

    private static HaSettings.FenceRequest redfish(String url, String target, String user) {
        return new HaSettings.FenceRequest("redfish", url, user, "secret", target, null, "test");
    }

    /** Puts the fence settings and expects a 400 naming {@code field}; checks nothing was stored. */
    private static void refused(HaSettings s, HaSettings.FenceRequest r, String field, String... words) {
        Map<String, Object> before = s.fenceView(host);
        assertThatThrownBy(() -> s.putFence(host, r, ADMIN, audit)).as(r.toString())
                .isInstanceOfSatisfying(ApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(400);
                    assertThat(e.errors()).extracting(ApiException.FieldError::field).containsExactly(field);
                    if (words.length > 0) {
                        assertThat(e.getMessage()).contains(words);
                    }
                });
        assertThat(s.fenceView(host)).isEqualTo(before);
    }

    @Test
    void redfishUrlsAreCheckedWhenSet() {
        for (String url : List.of("http://10.0.9.21", "https://admin:pw@10.0.9.21", "https://10.0.9.21:99999",
                "https://10.0.9.21:0", "https://[bad", "https://10.0.9.21/redfish/v1", "https://10.0.9.21/?x=1",
                "https://10.0.9.21#f", "https://bmc_1.example", "https://10.0.9.21:443/../x", "ftp://10.0.9.21",
                "https://", "https://010.0.9.21", "redfish", "https://" + "a".repeat(300))) {
            refused(production, redfish(url, null, "fence"), "address");
        }
        refused(production, redfish("https://10.0.9.21", "../../Managers/1", "fence"), "target", "system id");
        refused(production, redfish("https://10.0.9.21", "1", "fen:ce"), "username", "':'");
        refused(production, new HaSettings.FenceRequest("redfish", "https://10.0.9.21", "fence", "pw\nX-Injected: 1",
                "1", null, null), "password", "control");
        Map<String, Object> ok = production.putFence(host, redfish("https://BMC-7.example:8443/", "System.Embedded.1",
                "fence"), ADMIN, audit);
        assertThat(ok).containsEntry("kind", "redfish").containsEntry("address", "https://bmc-7.example:8443")
                .containsEntry("target", "System.Embedded.1").containsEntry("secretSet", true);
        assertThat(repo.fence(host.id()).orElseThrow().agent(false).describe()).isEqualTo("redfish bmc-7.example");
    }

    @Test
    void ipmiAddressesAreCheckedWhenSet() {
        for (String address : List.of("-H", "--help", "10.0.9.21 -U root", "10.0.9.21;reboot", "https://10.0.9.21",
                "[::ffff:10.0.9.21]", "10.0.9.256", "bmc..example", "", " ")) {
            refused(production, new HaSettings.FenceRequest("ipmi", address, "fence", "secret", null, null, null),
                    address.isBlank() ? "address" : "address");
        }
        refused(production, new HaSettings.FenceRequest("ipmi", "10.0.9.21", "x".repeat(65), "secret", null, null,
                null), "username");
        assertThat(production.putFence(host, new HaSettings.FenceRequest("ipmi", "[fd00::21]", "fence", "secret", null,
                null, null), ADMIN, audit)).containsEntry("address", "fd00:0:0:0:0:0:0:21");
    }

    @Test
    void theLabFenceAgentExistsOnlyInLabMode() {
        HaSettings.FenceRequest labKind = new HaSettings.FenceRequest("lab", null, null, null, "cvl1h1", null, null);
        refused(production, labKind, "kind", "only in a local lab", "--lab-mode");
        refused(production, new HaSettings.FenceRequest("carrier-pigeon", null, null, null, null, null, null), "kind",
                "ipmi, redfish or none");
        assertThat(lab.putFence(host, labKind, ADMIN, audit)).containsEntry("kind", "lab");
        refused(lab, new HaSettings.FenceRequest("lab", null, null, null, "../netns", null, null), "target");
        // stored by a lab manager, used by a production one: refused at fence time with the reason
        FenceConfig stored = repo.fence(host.id()).orElseThrow();
        assertThatThrownBy(() -> stored.agent(false)).hasMessageContaining("lab mode");
        assertThat(stored.agent(true).describe()).isEqualTo("lab cvl1h1");
        lab.putFence(host, new HaSettings.FenceRequest("none", null, null, null, null, null, null), ADMIN, audit);
    }

    @Test
    void settingsStoredByAnOlderVersionAreCheckedBeforeEachFence() {
        FenceConfig old = new FenceConfig("redfish", "https://user:pw@bmc:99999/x", "u", "p", "1", null);
        assertThatThrownBy(() -> old.agent(false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("user");
        FenceConfig traversal = new FenceConfig("redfish", "https://10.0.9.21", "u", "p", "../../x", null);
        assertThatThrownBy(() -> traversal.agent(false)).hasMessageContaining("system id");
        FenceConfig ipmi = new FenceConfig("ipmi", "-o cipher", "u", "p", null, null);
        assertThatThrownBy(() -> ipmi.agent(false)).hasMessageContaining("BMC's address");
    }

    @Provide
    Arbitrary<String> urls() {
        return Arbitraries.strings().withChars("htps:/@[]%#?.0123456789abz-_ ").ofMaxLength(40).map(s -> "https://" + s);
    }

    @Property(tries = 1000)
    void anAcceptedRedfishUrlIsABaseUrlOfAValidHost(@ForAll("urls") String url) {
        try {
            java.net.URI base = FenceTargets.redfishUrl(url);
            assertThat(base.getScheme()).isEqualTo("https");
            assertThat(base.getRawUserInfo()).isNull();
            assertThat(base.getRawPath()).isEmpty();
            assertThat(base.getRawQuery()).isNull();
            org.carevisor.protocol.HostAddress.parse(base.getHost());
            java.net.URI.create(base + "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset");
        } catch (IllegalArgumentException refused) {
            assertThat(refused.getMessage()).isNotBlank();
        }
    }
}
