package org.carevisor.itest.attack;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Tls;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.LeaseSeen;
import org.carevisor.protocol.SignedLease;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.carevisor.testkit.Commands;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.LabNetwork;
import org.carevisor.testkit.Poll;
import org.carevisor.testkit.QemuProcesses;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rogue enrolled agent against a real lab of two hosts (findings 5 and 6 of issue 12). The rogue holds a real
 * join token and so a real host certificate of the lab's CA ({@link FakeDestinationAgent}, a fake agent for
 * fault injection). It tries to enroll as another host, to report as another host, to point the manager at
 * another host's or the manager's address, to claim a VM of another host, to send oversized bodies, and - as
 * the destination of a live migration - to make the source's QEMU run {@code exec:} (or write to a file, a
 * unix socket, or stream to another address). Each is refused and audited, nothing is executed (a canary file
 * that an {@code exec:} URI would create stays absent, also when the source agent is asked directly), the real
 * hosts go on reporting, and the VM keeps running on its source with the same boot. Then, as a peer on the shared
 * storage, it reports forged storage leases of the host that runs the (now HA) VM - releasing it, with a huge counter,
 * unsigned, an old genuine one sent again, and leases of a host that does not exist - while that host reports and
 * while its network is cut (isolation response leave-running, a fence agent configured): HA neither restarts the VM
 * elsewhere nor fences the host, one QEMU of it runs all along, and each forgery is audited once, naming the rogue
 * (review item 3). Needs root.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RogueAgentAttackIT {
    private static final Duration BOOT = Duration.ofSeconds(90);

    Path dir;
    Lab lab;
    String index;
    String rogueAddress;
    FakeDestinationAgent rogue;
    Path canary;
    String vmId;
    String bootId;
    GuestProbe guest;

    @BeforeAll
    void startLab(@TempDir Path tempDir) throws Exception {
        Assumptions.assumeTrue(LabNetwork.available(), "the multi-host lab needs root (network namespaces);"
                + " ./carevisor test runs as root on CI");
        dir = tempDir;
        lab = Lab.cluster(dir.resolve("lab"), 26200, 2, Lab.applianceImage());
        String manager = lab.network().managerAddress();
        index = manager.split("\\.")[2];
        // the rogue's own address, on the lab's bridge (removed with the bridge when the lab closes)
        rogueAddress = "10.77." + index + ".240";
        run("ip", "addr", "add", rogueAddress + "/32", "dev", "cvl" + index + "br");
        canary = dir.resolve("canary-exec-ran");
        rogue = new FakeDestinationAgent("rogue-dst", rogueAddress, agentUrl(), caFingerprint());
        rogue.enroll(token("{\"ttlMinutes\":10}"));
        JsonNode cluster = lab.api().get("/api/v1/clusters/default").json();
        // what the real hosts see: the shared storage's domain id, the cluster's CPU model, the lab bridge
        String domain = Files.readString(lab.dir().resolve("storage/.carevisor-domain")).strip();
        rogue.start(domain, List.of(cluster.path("cpuModel").asText()),
                List.of(LabNetwork.vmBridge()));
        Poll.until(Duration.ofSeconds(30), "the rogue host to be connected", () -> "connected".equals(
                lab.api().get("/api/v1/hosts/" + rogue.hostId()).json().path("status").asText()) ? true : null);

        JsonNode vm = lab.createVm("{\"name\":\"victim\",\"cpus\":1,\"memoryMiB\":256,\"image\":\"carevisor-appliance\","
                + "\"nics\":[{\"network\":\"lab\"}],\"start\":true,\"host\":\"lab-h1\"}");
        vmId = vm.path("id").asText();
        guest = lab.guest("victim");
        bootId = guest.awaitReady(BOOT).bootId();
    }

    @AfterAll
    void stopLab() throws Exception {
        if (rogue != null) {
            rogue.close();
        }
        if (lab != null) {
            run("ip", "addr", "del", rogueAddress + "/32", "dev", "cvl" + index + "br");
            lab.close();
        }
        if (dir != null) {
            assertThat(QemuProcesses.find(dir.toString())).as("QEMU processes left behind").isEmpty();
        }
    }

    private String agentUrl() throws Exception {
        return Files.readString(lab.dir().resolve("manager/agent.url")).strip();
    }

    private String caFingerprint() {
        return lab.api().post("/api/v1/hosts/join-tokens", "{\"ttlMinutes\":1}").json().path("caFingerprint").asText();
    }

    private String token(String body) {
        return lab.api().post("/api/v1/hosts/join-tokens", body).expect(201).json().path("token").asText();
    }

    private String hostId(int i) throws Exception {
        return lab.host(i).id();
    }

    private static void run(String... cmd) throws Exception {
        Commands.run(java.time.Duration.ofSeconds(20), cmd);
    }

    /** The newest audit records of {@code action} about {@code target}, newest first. */
    private List<JsonNode> audit(String target, String action) {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode r : lab.api().get("/api/v1/audit?order=desc&limit=200&target=" + target).json()) {
            if (r.path("action").asText().equals(action)) {
                out.add(r);
            }
        }
        return out;
    }

    private void assertRealHostsUntouched() throws Exception {
        for (int i = 0; i < 2; i++) {
            String id = hostId(i);
            Poll.until(Duration.ofSeconds(20), "lab-h" + (i + 1) + " to report", () -> lab.api().get(
                    "/api/v1/hosts/" + id).json().path("status").asText().equals("connected") ? true : null);
            assertThat(lab.api().get("/api/v1/hosts/" + id).json().toString()).contains("10.77." + index + "."
                    + (11 + i));
        }
    }

    private void assertVictimRunsOn(String host) throws Exception {
        JsonNode vm = lab.vm("victim");
        assertThat(vm.path("host").asText()).isEqualTo(host);
        assertThat(vm.path("state").asText()).isEqualTo("running");
        assertThat(guest.status().bootId()).as("the guest was not restarted").isEqualTo(bootId);
        Poll.until(Duration.ofSeconds(30), "one QEMU of the VM", () -> QemuProcesses.qemus(vmId).size() == 1
                ? true : null);
        assertThat(canary).as("nothing was executed").doesNotExist();
    }

    @Test
    @Order(1)
    void aJoinTokenHolderCannotTakeOverAnotherHostsIdentity() throws Exception {
        String h1 = hostId(0);
        String h1Address = lab.host(0).address();
        String other = "10.77." + index + ".241";
        record Attempt(String what, String claimedId, String name, String endpoint, String migration, int status,
                       String code) {
        }
        List<Attempt> attempts = List.of(
                new Attempt("enroll as lab-h1 by its id", h1, "rogue-x", "https://" + other + ":7701", null, 403,
                        "host-token-required"),
                new Attempt("take lab-h1's address", null, "rogue-x", "https://" + h1Address + ":7701", null, 409,
                        "address-in-use"),
                new Attempt("receive lab-h1's migrations", null, "rogue-x", "https://" + other + ":7701", h1Address,
                        409, "address-in-use"),
                new Attempt("pose as the manager", null, "rogue-x", "https://" + lab.network().managerAddress()
                        + ":7701", null, 409, "address-in-use"),
                new Attempt("a loopback address from another machine", null, "rogue-x", "https://127.0.0.1:7701",
                        null, 400, "validation-failed"),
                new Attempt("the name of lab-h1", null, "lab-h1", "https://" + other + ":7701", null, 409,
                        "host-name-in-use"));
        for (Attempt a : attempts) {
            HttpResponse<String> r = rogue.enrollRaw(token("{\"ttlMinutes\":10}"), a.claimedId(), a.name(),
                    a.endpoint(), a.migration(), Keys.generate());
            assertThat(r.statusCode()).as(a.what() + ": " + r.body()).isEqualTo(a.status());
            assertThat(r.body()).as(a.what()).contains(a.code());
        }
        // a token issued for the rogue's own host does not make it another host
        HttpResponse<String> own = rogue.enrollRaw(token("{\"host\":\"" + rogue.hostId() + "\"}"), h1, "rogue-dst",
                rogue.endpoint(), rogueAddress, Keys.generate());
        assertThat(own.statusCode()).as(own.body()).isEqualTo(403);
        assertThat(own.body()).contains("join-token-host-mismatch");

        List<JsonNode> refused = audit(h1, "host.enroll").stream().filter(r -> r.path("outcome").asText()
                .equals("refused")).toList();
        assertThat(refused).as("the attempt on lab-h1's id is audited").isNotEmpty();
        assertThat(refused.get(0).path("clientAddress").asText()).isEqualTo(lab.network().managerAddress());
        assertThat(lab.api().get("/api/v1/audit?order=desc&limit=100&action=host.enroll").json().findValuesAsText(
                "reason")).anySatisfy(x -> assertThat(x).contains("already the address of host lab-h1"))
                .anySatisfy(x -> assertThat(x).contains("an address of the manager"))
                .anySatisfy(x -> assertThat(x).contains("loopback"));
        // lab-h1 keeps its certificate: nothing of it was revoked, it goes on reporting
        assertRealHostsUntouched();
        assertThat(Files.readString(lab.dir().resolve("manager/agent.url"))).isNotBlank();
    }

    @Test
    @Order(2)
    void aRogueAgentCannotReportAsAnotherHostPointElsewhereOrClaimAVm() throws Exception {
        String h1 = hostId(0);
        String h2 = hostId(1);
        HostInventory mine = rogue.inventory();
        HostInventory asH1 = new HostInventory(h1, "lab-h1", "https://" + rogueAddress + ":7701", 4, "x", 1, 1, "/s",
                1, 1, "7.2", "tcg", List.of(), false, "fake", 1, mine.storageDomainId(), 0, mine.cpuModels(),
                mine.bridges(), rogueAddress, 49152, 49215);
        HttpResponse<String> reportAsH1 = rogue.report(asH1, List.of());
        assertThat(reportAsH1.statusCode()).isEqualTo(403);
        assertThat(reportAsH1.body()).contains("host-mismatch");

        String h2Endpoint = "https://" + lab.host(1).address() + ":7701";
        HttpResponse<String> pointAtH2 = rogue.report(copy(mine, h2Endpoint, mine.migrationAddress()), List.of());
        assertThat(pointAtH2.statusCode()).isEqualTo(403);
        assertThat(pointAtH2.body()).contains("report-refused", "enrolled with address " + rogueAddress);
        HttpResponse<String> streamsToH2 = rogue.report(copy(mine, mine.endpoint(), lab.host(1).address()), List.of());
        assertThat(streamsToH2.statusCode()).isEqualTo(403);
        assertThat(lab.api().get("/api/v1/hosts/" + rogue.hostId()).json().toString()).doesNotContain(
                lab.host(1).address());

        // the victim VM runs on lab-h1; the rogue says it runs it
        VmStatus claim = new VmStatus(vmId, VmState.RUNNING, "mine now", null, 1L, Instant.now(), Instant.now(), null,
                List.of(), 1);
        HttpResponse<String> claimed = rogue.report(mine, List.of(claim));
        assertThat(claimed.statusCode()).as(claimed.body()).isEqualTo(200);
        JsonNode claimAudit = Poll.until(Duration.ofSeconds(10), "the claim to be audited", () -> {
            List<JsonNode> r = audit(vmId, "host.report-claim");
            return r.isEmpty() ? null : r.get(0);
        });
        assertThat(claimAudit.path("outcome").asText()).isEqualTo("refused");
        assertThat(claimAudit.path("reason").asText()).contains("rogue-dst", "victim", "no migration moves it");
        assertThat(lab.vm("victim").path("reason").asText()).doesNotContain("mine now");

        // bodies over the limits: refused before they are parsed (413), audited
        byte[] bigEnrollment = new byte[org.carevisor.manager.security.AgentListener.ENROLL_LIMIT + 100];
        java.util.Arrays.fill(bigEnrollment, (byte) '{');
        HttpResponse<String> enroll = rogue.postRaw("/agent/v1/enroll", bigEnrollment);
        assertThat(enroll.statusCode()).isEqualTo(413);
        assertThat(enroll.body()).contains("body-too-large");
        byte[] bigReport = new byte[org.carevisor.manager.security.AgentListener.REPORT_LIMIT + 100];
        java.util.Arrays.fill(bigReport, (byte) '[');
        HttpResponse<String> report = rogue.postRaw("/agent/v1/reports", bigReport);
        assertThat(report.statusCode()).isEqualTo(413);
        List<JsonNode> reportRefusals = audit(rogue.hostId(), "host.report");
        assertThat(reportRefusals).extracting(r -> r.path("reason").asText())
                .anySatisfy(x -> assertThat(x).contains("403 host-mismatch"))
                .anySatisfy(x -> assertThat(x).contains("403 report-refused"))
                .anySatisfy(x -> assertThat(x).contains("413 body-too-large"));
        assertThat(lab.api().get("/api/v1/audit?order=desc&limit=100&action=host.enroll").json().findValuesAsText(
                "reason")).anySatisfy(x -> assertThat(x).contains("413 body-too-large"));

        assertRealHostsUntouched();
        assertVictimRunsOn("lab-h1");
        assertThat(h2).isNotEqualTo(rogue.hostId());
    }

    private static HostInventory copy(HostInventory i, String endpoint, String migration) {
        return new HostInventory(i.hostId(), i.hostname(), endpoint, i.cpus(), i.cpuModelName(), i.memoryMiB(),
                i.memoryAvailableMiB(), i.storagePath(), i.storageTotalBytes(), i.storageFreeBytes(), i.qemuVersion(),
                i.accelerator(), i.warnings(), i.shuttingDown(), i.agentVersion(), i.protocolVersion(),
                i.storageDomainId(), i.localStorageFreeBytes(), i.cpuModels(), i.bridges(), migration,
                i.migrationPortFrom(), i.migrationPortTo());
    }

    @Test
    @Order(3)
    void aMigrationDestinationCannotChooseTheSourcesMigrationUri() throws Exception {
        String h1Address = lab.host(0).address();
        String h2Address = lab.host(1).address();
        List<String> uris = List.of("exec:touch " + canary, "exec:/bin/sh -c 'touch " + canary + "'",
                "file:" + dir.resolve("guest-memory"), "unix:" + dir.resolve("stream.sock"),
                "tcp:" + h2Address + ":49152", "tcp:" + lab.network().managerAddress() + ":49152",
                "tcp:" + h1Address + ":49152", "tcp:" + rogueAddress + ":22", "tcp:" + rogueAddress + ":2000",
                "tcp:" + rogueAddress + ":49152,ipv4=on");
        for (String uri : uris) {
            rogue.answerIncomingWith(uri);
            int callsBefore = rogue.calls().size();
            JsonNode task = lab.run("/api/v1/vms/victim/migrate", "{\"host\":\"rogue-dst\",\"reason\":\"attack test\"}");
            assertThat(task.path("state").asText()).as(uri + ": " + task).isEqualTo("failed");
            assertThat(task.path("error").path("code").asText()).as(uri).isEqualTo("migration-uri-refused");
            assertThat(task.path("error").path("detail").asText()).as(uri).contains("rogue-dst", "refused",
                    "stays on lab-h1");
            List<String> calls = rogue.calls().subList(callsBefore, rogue.calls().size());
            assertThat(calls).as(uri).contains("POST /v1/vms/" + vmId + "/incoming",
                    "DELETE /v1/vms/" + vmId + "/incoming");
            // the source was never told anything: no URI was recorded, no byte sent
            JsonNode record = lab.api().get("/api/v1/migrations?vm=victim").json().get(0);
            assertThat(record.path("phase").asText()).isEqualTo("failed");
            assertThat(record.path("incomingUri").isMissingNode() || record.path("incomingUri").isNull()).as(uri)
                    .isTrue();
            assertThat(record.path("transferredBytes").asLong(0)).isZero();
            // (the lab's QEMU also runs with -sandbox spawn=deny: an exec: URI reaching it would crash the guest
            // rather than create the canary; the running guest with the same boot shows it never got there)
            assertVictimRunsOn("lab-h1");
        }
        assertThat(dir.resolve("guest-memory")).doesNotExist();
        assertThat(dir.resolve("stream.sock")).doesNotExist();
        List<JsonNode> refusals = audit(rogue.hostId(), "vm.migrate-uri");
        assertThat(refusals).hasSizeGreaterThanOrEqualTo(uris.size());
        assertThat(refusals).allSatisfy(r -> assertThat(r.path("outcome").asText()).isEqualTo("refused"));
        assertThat(refusals).extracting(r -> r.path("newValue").toString())
                .anySatisfy(x -> assertThat(x).contains("exec:touch"));
        JsonNode failures = lab.api().get("/api/v1/migrations?vm=victim").json();
        assertThat(failures.get(0).path("phase").asText()).isEqualTo("failed");

        // The source agent checks the URI too: even with the manager's own certificate (made here from the
        // lab's CA, as an attacker who took the manager would hold it), exec: never reaches QEMU.
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(lab.dir().resolve("manager/pki"), "Carevisor CA");
        KeyPair keys = Keys.generate();
        Tls.Identity asManager = new Tls.Identity(keys.getPrivate(), ca.issue(keys.getPublic(), "manager",
                List.of(lab.network().managerAddress()), Duration.ofHours(1)), ca.certificate());
        HttpClient http = HttpClient.newBuilder().sslContext(Tls.context(asManager)).build();
        for (String uri : List.of("exec:touch " + canary, "file:" + dir.resolve("guest-memory"),
                "unix:" + dir.resolve("stream.sock"), "tcp:" + h2Address + ":49152,to=49160")) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("https://" + h1Address
                    + ":7701/v1/vms/" + vmId + "/migration")).header("Carevisor-Protocol", "1")
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                            "{\"uri\":\"" + uri.replace("'", "") + "\",\"maxBandwidthBytes\":0,\"downtimeLimitMs\":300,"
                                    + "\"autoConverge\":false}")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(uri + ": " + r.body()).isEqualTo(400);
            assertThat(r.body()).contains("migration-uri-invalid");
            assertVictimRunsOn("lab-h1");
        }
        assertThat(dir.resolve("guest-memory")).doesNotExist();

        // a legitimate migration still works: the manager builds tcp:<lab-h2's registered address>:<its port>
        JsonNode ok = lab.run("/api/v1/vms/victim/migrate", "{\"host\":\"lab-h2\"}");
        assertThat(ok.path("state").asText()).as(ok.toString()).isEqualTo("succeeded");
        JsonNode record = lab.api().get("/api/v1/migrations?vm=victim").json().get(0);
        assertThat(record.path("phase").asText()).isEqualTo("completed");
        assertThat(record.path("incomingUri").asText()).startsWith("tcp:" + h2Address + ":");
        assertVictimRunsOn("lab-h2");
        assertRealHostsUntouched();
    }

    private JsonNode haHost(String name) {
        for (JsonNode h : lab.api().get("/api/v1/ha").json().path("hosts")) {
            if (h.path("name").asText().equals(name)) {
                return h;
            }
        }
        throw new AssertionError("no HA view of " + name);
    }

    private List<JsonNode> auditAction(String action) {
        List<JsonNode> out = new ArrayList<>();
        lab.api().get("/api/v1/audit?order=desc&limit=500&action=" + action).json().forEach(out::add);
        return out;
    }

    private long lastAuditSeq() {
        JsonNode last = lab.api().get("/api/v1/audit?limit=1&order=desc").json();
        return last.size() == 0 ? 0 : last.get(0).path("seq").asLong();
    }

    /** What a rogue peer says it read on the shared storage: forgeries of {@code victim}'s lease, and a ghost's. */
    private List<LeaseSeen> forgeries(String victim, String oldGenuine, long run) {
        String ghost = java.util.UUID.randomUUID().toString();
        List<LeaseSeen> out = new ArrayList<>();
        String releasing = new SignedLease(victim, Long.MAX_VALUE - 1, Instant.now(), SignedLease.AGENT,
                List.of(new SignedLease.Released(vmId, run)), null).sign(rogue.identity().key());
        out.add(SignedLease.parse(releasing).seen(releasing));
        SignedLease unsigned = new SignedLease(victim, Long.MAX_VALUE - 2, Instant.now(), SignedLease.AGENT,
                List.of(new SignedLease.Released(vmId, run)), null);
        out.add(unsigned.seen(unsigned.body()));
        out.add(SignedLease.parse(oldGenuine).seen(oldGenuine));
        String ghostly = new SignedLease(ghost, 1, Instant.now(), SignedLease.AGENT, List.of(), null)
                .sign(rogue.identity().key());
        out.add(SignedLease.parse(ghostly).seen(ghostly));
        return out;
    }

    @Test
    @Order(4)
    void forgedLeasesOfTheVmsHostNeitherRestartTheVmElsewhereNorFenceTheHost() throws Exception {
        String h2 = hostId(1);
        assertVictimRunsOn("lab-h2");
        lab.api().patch("/api/v1/vms/victim/ha", "{\"enabled\":true,\"priority\":90}").expect(200);
        lab.api().patch("/api/v1/hosts/lab-h2/fence", "{\"kind\":\"lab\",\"target\":\""
                + lab.network().namespace(2) + "\"}").expect(200);
        lab.api().patch("/api/v1/clusters/default/ha", "{\"isolationResponse\":\"leave-running\"}").expect(200);
        Path h2Lease = lab.dir().resolve("storage/.carevisor/leases/" + h2 + ".lease");
        try {
            // the real agents' signed leases count: both hosts' counters advance in the HA view
            long c1 = haHost("lab-h1").path("leaseCounter").asLong();
            long c2 = haHost("lab-h2").path("leaseCounter").asLong();
            Poll.until(Duration.ofSeconds(15), "the real hosts' leases to advance", () -> haHost("lab-h1")
                    .path("leaseCounter").asLong() > c1 + 2 && haHost("lab-h2").path("leaseCounter").asLong() > c2 + 2
                    ? true : null);
            String file = Files.readString(h2Lease);
            String oldGenuine = file.indexOf('\0') < 0 ? file : file.substring(0, file.indexOf('\0')); // its padding
            long run = 0; // the rogue cannot sign anyway; what run it names does not matter
            Thread.sleep(3000); // the genuine lease copied above is old now
            long seqBefore = lastAuditSeq();

            // 1. while lab-h2 reports: forgeries every 300 ms for 20 s (longer than the heartbeat timeout and the
            //    lease expiry)
            long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (System.nanoTime() < until) {
                HttpResponse<String> r = rogue.report(rogue.inventory(), List.of(), forgeries(h2, oldGenuine, run));
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                assertThat(QemuProcesses.qemus(vmId)).as("one QEMU of the VM").hasSize(1);
                assertThat(haHost("lab-h2").path("health").asText()).isEqualTo("up");
                Thread.sleep(300);
            }
            long honest = haHost("lab-h2").path("leaseCounter").asLong();
            assertThat(honest).as("the honest counter was not frozen by the forged one").isLessThan(1_000_000);
            Poll.until(Duration.ofSeconds(10), "lab-h2's honest renewals to go on counting", () -> haHost("lab-h2")
                    .path("leaseCounter").asLong() > honest + 2 ? true : null);

            // 2. lab-h2's network is cut: it runs on and renews its lease (leave-running), lab-h1 reports it
            //    honestly, the rogue goes on forging. Believing the forged release would start the VM on another
            //    host; believing the forged counter would make lab-h2 look dead and fence it.
            lab.network().link(2, false);
            boolean isolatedSeen = false;
            try {
                until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (System.nanoTime() < until) {
                    HttpResponse<String> r = rogue.report(rogue.inventory(), List.of(), forgeries(h2, oldGenuine, run));
                    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                    assertThat(QemuProcesses.qemus(vmId)).as("one QEMU of the VM, on lab-h2").hasSize(1);
                    String health = haHost("lab-h2").path("health").asText();
                    assertThat(health).as("lab-h2 while cut off").isIn("up", "suspect", "isolated");
                    isolatedSeen |= health.equals("isolated");
                    Thread.sleep(300);
                }
            } finally {
                lab.network().link(2, true);
            }
            assertThat(isolatedSeen).as("lab-h2 was judged isolated (alive), not dead").isTrue();
            Poll.until(Duration.ofSeconds(30), "lab-h2 to be up again", () -> haHost("lab-h2").path("health")
                    .asText().equals("up") ? true : null);
            assertRealHostsUntouched();
            assertVictimRunsOn("lab-h2");

            List<JsonNode> since = new ArrayList<>();
            for (JsonNode r : lab.api().get("/api/v1/audit?limit=1000&order=desc").json()) {
                if (r.path("seq").asLong() > seqBefore) {
                    since.add(r);
                }
            }
            List<String> actions = since.stream().map(r -> r.path("action").asText() + " " + r.path("targetName")
                    .asText()).toList();
            assertThat(actions).as("nothing was fenced, released or restarted").doesNotContain("ha.fence lab-h2",
                    "host.fence lab-h2", "ha.dead lab-h2", "ha.released victim", "ha.restart victim",
                    "vm.ha-restart victim");
            assertThat(actions).contains("ha.isolated lab-h2");
            List<JsonNode> refused = since.stream().filter(r -> r.path("action").asText().equals("ha.lease-refused"))
                    .toList();
            assertThat(refused).as("every refusal names the rogue").isNotEmpty().allSatisfy(r -> assertThat(
                    r.path("actor").asText()).isEqualTo("agent:rogue-dst"));
            assertThat(refused).extracting(r -> r.path("reason").asText())
                    .anySatisfy(x -> assertThat(x).contains("lease-signature-invalid", "lab-h2"))
                    .anySatisfy(x -> assertThat(x).contains("lease-unsigned"))
                    .anySatisfy(x -> assertThat(x).contains("lease-unknown-host"));
            assertThat(refused).as("once per episode, not once per report (~160 reports)").hasSizeLessThanOrEqualTo(6);
            // HA kept deciding: its evaluation job never failed
            JsonNode jobs = lab.api().get("/api/v1/health").json();
            assertThat(jobs.toString()).doesNotContain("job-ha-evaluation");
        } finally {
            lab.api().patch("/api/v1/clusters/default/ha", "{\"isolationResponse\":\"power-off\"}").expect(200);
            lab.api().patch("/api/v1/hosts/lab-h2/fence", "{\"kind\":\"none\"}").expect(200);
            lab.api().patch("/api/v1/vms/victim/ha", "{\"enabled\":false}").expect(200);
        }
    }

    @Test
    @Order(5)
    void theMigrationStreamIsTlsSoAListenerAtTheDestinationsAddressGetsNoGuestMemory() throws Exception {
        assertVictimRunsOn("lab-h2");
        // a listener at the rogue host's registered migration address and port, as a machine that took over the
        // address (or taps the network) would hold: it gets what the source sends, and answers nothing
        java.io.ByteArrayOutputStream received = new java.io.ByteArrayOutputStream();
        try (java.net.ServerSocket tap = new java.net.ServerSocket()) {
            tap.bind(new java.net.InetSocketAddress(rogueAddress, 49200));
            Thread reader = new Thread(() -> {
                try (java.net.Socket s = tap.accept()) {
                    s.setSoTimeout(5000);
                    byte[] buf = new byte[65536];
                    int n;
                    while (received.size() < (1 << 20) && (n = s.getInputStream().read(buf)) > 0) {
                        received.write(buf, 0, n);
                    }
                } catch (java.io.IOException e) {
                    // the read timed out or the source gave up: what arrived is in received
                }
            });
            reader.start();
            rogue.answerIncomingWith("tcp:" + rogueAddress + ":49200");
            JsonNode task = lab.run("/api/v1/vms/victim/migrate", "{\"host\":\"rogue-dst\",\"reason\":\"attack test\"}");
            reader.join(30_000);
            assertThat(task.path("state").asText()).as(task.toString()).isEqualTo("failed");
        }
        byte[] bytes = received.toByteArray();
        assertThat(bytes.length).as("the source connected to the listener").isGreaterThan(5);
        assertThat(bytes[0]).as("the first record is a TLS handshake (ClientHello)").isEqualTo((byte) 0x16);
        assertThat(bytes[1]).as("TLS record version 3.x").isEqualTo((byte) 0x03);
        assertThat(new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1))
                .as("no QEMU migration stream (QEVM) in clear").doesNotContain("QEVM");
        assertVictimRunsOn("lab-h2");
    }
}
