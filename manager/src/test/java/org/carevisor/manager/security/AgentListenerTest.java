package org.carevisor.manager.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.carevisor.manager.vm.Lifecycle;
import org.carevisor.manager.vm.PowerState;
import org.carevisor.manager.vm.VmRecord;
import org.carevisor.manager.vm.VmRepository;
import org.carevisor.pki.Tls;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.LeaseSeen;
import org.carevisor.protocol.ProtocolJson;
import org.carevisor.protocol.VmState;
import org.carevisor.protocol.VmStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent listener against what a hostile enrolled agent (or anyone who reaches its port) sends: bodies
 * over the limits, reports whose contents break their bounds, a host that points the manager at another
 * address, renames itself to another host or claims another host's VM. Every refusal is audited.
 */
class AgentListenerTest {
    @TempDir
    static Path dir;
    static AgentWire wire;

    @BeforeAll
    static void start() throws Exception {
        wire = new AgentWire(dir);
    }

    @AfterAll
    static void stop() {
        if (wire != null) {
            wire.close();
        }
    }

    private static HostInventory with(HostInventory i, String endpoint, String name, String migration) {
        return new HostInventory(i.hostId(), name, endpoint, i.cpus(), i.cpuModelName(), i.memoryMiB(),
                i.memoryAvailableMiB(), i.storagePath(), i.storageTotalBytes(), i.storageFreeBytes(), i.qemuVersion(),
                i.accelerator(), i.warnings(), i.shuttingDown(), i.agentVersion(), i.protocolVersion(),
                i.storageDomainId(), i.localStorageFreeBytes(), i.cpuModels(), i.bridges(), migration,
                i.migrationPortFrom(), i.migrationPortTo());
    }

    private static VmStatus running(String vmId) {
        return new VmStatus(vmId, VmState.RUNNING, "running", null, 4242L, Instant.now(), Instant.now(), null, List.of(),
                1);
    }

    @Test
    void bodiesAreBoundedBeforeTheyAreParsed() throws Exception {
        // an enrollment body over the limit, declared: refused before it is read (and before any token check)
        byte[] big = new byte[AgentListener.ENROLL_LIMIT + 1];
        java.util.Arrays.fill(big, (byte) ' ');
        HttpResponse<String> declared = wire.post(Tls.pinned(wire.pin()), "/agent/v1/enroll",
                HttpRequest.BodyPublishers.ofByteArray(big), "1");
        assertThat(declared.statusCode()).isEqualTo(413);
        assertThat(declared.body()).contains("body-too-large", String.valueOf(AgentListener.ENROLL_LIMIT));
        // the same without a length (chunked): read up to the limit, then refused
        HttpResponse<String> chunked = wire.post(Tls.pinned(wire.pin()), "/agent/v1/enroll",
                HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big)), "1");
        assertThat(chunked.statusCode()).isEqualTo(413);
        JsonNode audited = wire.auditAction("host.enroll").get(0);
        assertThat(audited.path("outcome").asText()).isEqualTo("refused");
        assertThat(audited.path("reason").asText()).contains("413 body-too-large");

        AgentWire.Enrolled h = wire.enroll();
        String report = wire.report(wire.inventory(h), List.of());
        StringBuilder padded = new StringBuilder(report.substring(0, report.length() - 1));
        padded.append(",\"padding\":\"").append("x".repeat(AgentListener.REPORT_LIMIT)).append("\"}");
        HttpResponse<String> huge = wire.post(h.tls(), "/agent/v1/reports", padded.toString(), "1");
        assertThat(huge.statusCode()).isEqualTo(413);
        assertThat(wire.newest(h.hostId(), "host.report").path("reason").asText()).contains("413 body-too-large");
        // no certificate: refused before the body is parsed
        HttpResponse<String> anonymous = wire.post(Tls.pinned(wire.pin()), "/agent/v1/reports", padded.toString(), "1");
        assertThat(anonymous.statusCode()).isEqualTo(401);
        // far over the limit: the refusal, or (past what the listener reads and throws away) a closed connection
        byte[] enormous = new byte[AgentListener.REPORT_LIMIT * 4];
        try {
            assertThat(wire.post(h.tls(), "/agent/v1/reports", HttpRequest.BodyPublishers.ofByteArray(enormous), "1")
                    .statusCode()).isEqualTo(413);
        } catch (java.io.IOException closed) {
            assertThat(closed).hasStackTraceContaining("reset");
        }
        assertThat(wire.sendReport(h).statusCode()).as("the host itself goes on reporting").isEqualTo(200);
    }

    @Test
    void reportContentsAreBounded() throws Exception {
        AgentWire.Enrolled h = wire.enroll();
        assertThat(wire.sendReport(h).statusCode()).isEqualTo(200);
        List<VmStatus> many = new ArrayList<>();
        for (int i = 0; i <= org.carevisor.manager.host.ReportValidator.MAX_VMS; i++) {
            many.add(new VmStatus(UUID.randomUUID().toString(), VmState.STOPPED, null, null, null, null, null, null,
                    List.of(), 1));
        }
        HttpResponse<String> tooMany = wire.sendReport(h, wire.inventory(h), many);
        assertThat(tooMany.statusCode()).isEqualTo(400);
        assertThat(tooMany.body()).contains("report-invalid", "at most 1024 VMs");

        HttpResponse<String> notUuid = wire.sendReport(h, wire.inventory(h), List.of(running("../../etc")));
        assertThat(notUuid.statusCode()).isEqualTo(400);
        assertThat(notUuid.body()).contains("vms[0].vmId");

        String vm = UUID.randomUUID().toString();
        HttpResponse<String> twice = wire.sendReport(h, wire.inventory(h), List.of(running(vm), running(vm)));
        assertThat(twice.statusCode()).isEqualTo(400);
        assertThat(twice.body()).contains("listed twice");

        VmStatus longReason = new VmStatus(vm, VmState.CRASHED, "x".repeat(5000), null, null, null, null, 1, List.of(),
                1);
        HttpResponse<String> tooLong = wire.sendReport(h, wire.inventory(h), List.of(longReason));
        assertThat(tooLong.statusCode()).isEqualTo(400);
        assertThat(tooLong.body()).contains("vms[0].reason", "at most 4096");

        List<LeaseSeen> leases = new ArrayList<>();
        for (int i = 0; i <= 256; i++) {
            leases.add(new LeaseSeen(UUID.randomUUID().toString(), 1, Instant.now(), "agent", List.of()));
        }
        String body = ProtocolJson.mapper().writeValueAsString(new org.carevisor.protocol.HostReport(
                wire.inventory(h), List.of(), 99_999, Instant.now(), Instant.now(), leases));
        HttpResponse<String> tooManyLeases = wire.post(h.tls(), "/agent/v1/reports", body, "1");
        assertThat(tooManyLeases.statusCode()).isEqualTo(400);
        assertThat(tooManyLeases.body()).contains("at most 256 leases");

        HostInventory i = wire.inventory(h);
        HostInventory badRange = new HostInventory(i.hostId(), i.hostname(), i.endpoint(), 2, "cpu", 1, 1, "/s", 1, 1,
                "7.2", "tcg", List.of(), false, "dev", 1, null, 0, List.of(), List.of(), null, 80, 90);
        assertThat(wire.sendReport(h, badRange, List.of()).body()).contains("migration port range");
        HostInventory manyModels = new HostInventory(i.hostId(), i.hostname(), i.endpoint(), 2, "cpu", 1, 1, "/s", 1,
                1, "7.2", "tcg", java.util.Collections.nCopies(65, "w"), false, "dev", 1, null, 0, List.of(), List.of(),
                null, 0, 0);
        assertThat(wire.sendReport(h, manyModels, List.of()).body()).contains("inventory.warnings");

        assertThat(wire.newest(h.hostId(), "host.report").path("reason").asText()).contains("400 report-invalid");
        assertThat(wire.sendReport(h).statusCode()).isEqualTo(200);
    }

    @Test
    void aHostCannotPointTheManagerAtAnotherAddressOrTakeAnotherHostsName() throws Exception {
        AgentWire.Enrolled a = wire.enroll("host-a", "https://127.0.8.11:7701", "127.0.18.11");
        AgentWire.Enrolled b = wire.enroll("host-b", "https://127.0.8.12:7701", "127.0.18.12");
        assertThat(wire.sendReport(a).statusCode()).isEqualTo(200);
        assertThat(wire.sendReport(b).statusCode()).isEqualTo(200);
        HostInventory inv = wire.inventory(a);

        HttpResponse<String> pointAtB = wire.sendReport(a, with(inv, b.endpoint(), "host-a", "127.0.18.11"), List.of());
        assertThat(pointAtB.statusCode()).isEqualTo(403);
        assertThat(pointAtB.body()).contains("report-refused", "enrolled with address 127.0.8.11",
                "host join-token create --host host-a");
        HttpResponse<String> elsewhere = wire.sendReport(a, with(inv, "https://127.0.8.99:7701", "host-a",
                "127.0.18.11"), List.of());
        assertThat(elsewhere.statusCode()).isEqualTo(403);
        HttpResponse<String> streamsToB = wire.sendReport(a, with(inv, a.endpoint(), "host-a", "127.0.18.12"), List.of());
        assertThat(streamsToB.statusCode()).isEqualTo(403);
        assertThat(streamsToB.body()).contains("receive live migrations at 127.0.18.11");
        HttpResponse<String> nameOfB = wire.sendReport(a, with(inv, a.endpoint(), "host-b", "127.0.18.11"), List.of());
        assertThat(nameOfB.statusCode()).isEqualTo(403);
        assertThat(nameOfB.body()).contains("name 'host-b'");
        JsonNode refused = wire.newest(a.hostId(), "host.report");
        assertThat(refused.path("outcome").asText()).isEqualTo("refused");
        assertThat(refused.path("reason").asText()).contains("403 report-refused");
        JsonNode stored = wire.api.get("/api/v1/hosts/" + a.hostId()).json();
        assertThat(stored.toString()).contains("127.0.8.11").doesNotContain("127.0.8.12", "127.0.8.99");

        // what may change: the port (an agent on port 0 gets another one at each start), and the name
        HttpResponse<String> newPort = wire.sendReport(a, with(inv, "https://127.0.8.11:7801", "host-a2",
                "127.0.18.11"), List.of());
        assertThat(newPort.statusCode()).as(newPort.body()).isEqualTo(200);
        assertThat(wire.newest(a.hostId(), "host.rename").path("newValue").toString()).contains("host-a2");
        assertThat(wire.api.get("/api/v1/hosts/" + a.hostId()).json().path("name").asText()).isEqualTo("host-a2");
    }

    @Test
    void aHostEnrolledBeforeMigrationAddressesWereRegisteredRegistersItsOwnOnly() throws Exception {
        AgentWire.Enrolled old = wire.enroll("old-host", "https://127.0.28.11:7701", null);
        AgentWire.Enrolled other = wire.enroll("other-host", "https://127.0.28.12:7701", null);
        wire.manager.database().jdbi().useHandle(h -> h.createUpdate(
                "UPDATE hosts SET migration_address = NULL WHERE id = :id").bind("id", old.hostId()).execute());
        HttpResponse<String> othersAddress = wire.sendReport(old, with(wire.inventory(old), old.endpoint(), "old-host",
                "127.0.28.12"), List.of());
        assertThat(othersAddress.statusCode()).isEqualTo(409);
        assertThat(othersAddress.body()).contains("address-in-use", "other-host");
        HttpResponse<String> own = wire.sendReport(old, with(wire.inventory(old), old.endpoint(), "old-host",
                "127.0.38.11"), List.of());
        assertThat(own.statusCode()).as(own.body()).isEqualTo(200);
        assertThat(wire.newest(old.hostId(), "host.migration-address").path("newValue").toString()).contains("127.0.38.11");
        assertThat(wire.sendReport(old, with(wire.inventory(old), old.endpoint(), "old-host", "127.0.38.12"), List.of())
                .statusCode()).as("registered now: it stays").isEqualTo(403);
        assertThat(wire.sendReport(other).statusCode()).isEqualTo(200);
    }

    @Test
    void aClaimOfAnotherHostsVmIsNotTakenInAndIsAudited() throws Exception {
        AgentWire.Enrolled owner = wire.enroll();
        AgentWire.Enrolled rogue = wire.enroll();
        String vmId = UUID.randomUUID().toString();
        Instant now = Instant.now();
        VmRepository vms = new VmRepository(wire.manager.database().jdbi());
        vms.jdbi().useTransaction(h -> vms.insert(h, new VmRecord(vmId, "ehr-" + vmId.substring(0, 4), "owned by "
                + owner.name(), 1, 256, "pc", "qemu64", owner.hostId(), PowerState.STOPPED, Lifecycle.READY, 1, now,
                now, now, List.of(), List.of(), null, null, null, null,
                org.carevisor.manager.cluster.ClusterRecord.DEFAULT_ID, null, false)));
        VmStatus stopped = new VmStatus(vmId, VmState.STOPPED, "not running", null, null, now, null, null, List.of(),
                1);
        assertThat(wire.sendReport(owner, wire.inventory(owner), List.of(stopped)).statusCode()).isEqualTo(200);

        HttpResponse<String> claim = wire.sendReport(rogue, wire.inventory(rogue), List.of(running(vmId)));
        assertThat(claim.statusCode()).as("the rest of the report is taken in: a real stray must be stopped")
                .isEqualTo(200);
        JsonNode vm = wire.api.get("/api/v1/vms/" + vmId).json();
        assertThat(vm.path("state").asText()).as("the VM's state comes from its own host only").isEqualTo("stopped");
        assertThat(vm.path("host").asText()).isEqualTo(owner.name());
        JsonNode audited = wire.newest(vmId, "host.report-claim");
        assertThat(audited.path("outcome").asText()).isEqualTo("refused");
        assertThat(audited.path("reason").asText()).contains(rogue.name(), "no migration moves it");
        // stopped entries of foreign VMs (history of a host, e.g. after a migration away) are no claim
        int before = wire.audit(vmId).size();
        assertThat(wire.sendReport(rogue, wire.inventory(rogue), List.of(stopped)).statusCode()).isEqualTo(200);
        assertThat(wire.audit(vmId).size()).isEqualTo(before);
    }
}
