package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.carevisor.testkit.Http;
import org.junit.jupiter.api.Test;

/**
 * VM delete and archive leave nothing half-made: a reason longer than the bound is refused before anything
 * changes; a reason at the bound fits the audit record even with what the system adds; a host that cannot
 * remove a disk (the disk file is made immutable with {@code chattr +i}, a real failure at the disk step)
 * leaves a VM that a second delete finishes, and an archive that is recorded before its disks go.
 */
class DeleteArchiveOrderIT extends ApplianceLabTest {
    private static final String REASON = "r".repeat(1000);

    @Override
    int guestPortFrom() {
        return 25400;
    }

    @Test
    void deleteWithALongReasonAndAFailingDiskStep() throws Exception {
        JsonNode vm = lab.createVm("{\"name\":\"del-1\",\"cpus\":1,\"memoryMiB\":64,\"image\":\"carevisor-appliance\"}");
        String id = vm.path("id").asText();
        Path disk = lab.dir().resolve("storage/vms/" + id + "/disk0.qcow2");

        Http.Response tooLong = lab.api().withHeader("Carevisor-Reason", "r".repeat(1001))
                .delete("/api/v1/vms/del-1");
        assertThat(tooLong.status()).isEqualTo(400);
        assertThat(tooLong.json().path("errors").findValuesAsText("field")).containsExactly("reason");
        assertThat(lab.vm("del-1").path("lifecycle").asText()).isEqualTo("ready");

        chattr("+i", disk);
        try {
            JsonNode failed = lab.awaitTaskEnd(lab.api().withHeader("Carevisor-Reason", REASON)
                    .delete("/api/v1/vms/del-1").expect(202).json().path("id").asText());
            assertThat(failed.path("state").asText()).isEqualTo("failed");
            assertThat(failed.path("error").path("code").asText()).as(failed.toString()).isEqualTo("delete-incomplete");
            JsonNode left = lab.vm("del-1");
            assertThat(left.path("lifecycle").asText()).isEqualTo("deleting");
            JsonNode audit = lab.api().get("/api/v1/audit?target=" + id + "&action=vm.delete&limit=1").json().get(0);
            assertThat(audit.path("outcome").asText()).isEqualTo("failure");
            assertThat(audit.path("reason").asText()).startsWith(REASON);
        } finally {
            chattr("-i", disk);
        }
        // the VM is deletable: a second delete finishes the job
        JsonNode done = lab.awaitTask(lab.api().withHeader("Carevisor-Reason", REASON).delete("/api/v1/vms/del-1")
                .expect(202).json().path("id").asText());
        assertThat(done.path("state").asText()).isEqualTo("succeeded");
        assertThat(lab.api().get("/api/v1/vms/del-1").status()).isEqualTo(404);
        assertThat(disk.getParent()).doesNotExist();
        JsonNode record = lab.api().get("/api/v1/audit?target=" + id + "&action=vm.delete&limit=1").json().get(0);
        assertThat(record.path("outcome").asText()).isEqualTo("success");
        assertThat(record.path("reason").asText()).startsWith(REASON);
    }

    @Test
    void archiveIsRecordedBeforeItsDisksGo() throws Exception {
        JsonNode vm = lab.createVm("{\"name\":\"arc-1\",\"cpus\":1,\"memoryMiB\":64,\"image\":\"carevisor-appliance\"}");
        String id = vm.path("id").asText();
        Path disk = lab.dir().resolve("storage/vms/" + id + "/disk0.qcow2");
        chattr("+i", disk);
        JsonNode task;
        try {
            task = lab.run("/api/v1/vms/arc-1/archive", "{\"reason\":\"" + REASON + "\"}");
        } finally {
            chattr("-i", disk);
        }
        assertThat(task.path("state").asText()).isEqualTo("failed");
        assertThat(task.path("error").path("code").asText()).as(task.toString()).isEqualTo("archive-cleanup-failed");
        JsonNode archived = lab.vm("arc-1");
        assertThat(archived.path("lifecycle").asText()).isEqualTo("archived");
        assertThat(lab.dir().resolve("storage").resolve(archived.path("archivePath").asText())).exists();
        // nothing lost: the restore verifies the archive, replaces what was left and the VM is whole again
        JsonNode restored = lab.run("/api/v1/vms/arc-1/restore", null);
        assertThat(restored.path("state").asText()).as(restored.toString()).isEqualTo("succeeded");
        assertThat(lab.vm("arc-1").path("lifecycle").asText()).isEqualTo("ready");
        assertThat(disk).exists();
        assertThat(lab.api().get("/api/v1/vms/" + id + "/history").json().findValuesAsText("action"))
                .contains("vm.archive", "vm.archive.cleanup", "vm.restore");
    }

    private static void chattr(String flag, Path file) throws Exception {
        Process p = new ProcessBuilder("chattr", flag, file.toString()).inheritIO().start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
    }
}
