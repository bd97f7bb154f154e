package org.carevisor.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ApiClientTest {
    private static JsonNode problem(String code, String detail) {
        return ApiClient.json().createObjectNode().put("code", code).put("detail", detail);
    }

    @Test
    void exitCodesOfAuthenticationAndAuthorization() {
        assertThat(ExitCodes.forStatus(401)).isEqualTo(ExitCodes.NOT_AUTHENTICATED).isEqualTo(9);
        assertThat(ExitCodes.forStatus(403)).isEqualTo(ExitCodes.FORBIDDEN).isEqualTo(10);
        assertThat(ExitCodes.forStatus(404)).isEqualTo(ExitCodes.NOT_FOUND);
        assertThat(ExitCodes.forStatus(500)).isEqualTo(ExitCodes.ERROR);
    }

    @Test
    void messagesSayWhatToDo() {
        assertThat(ApiClient.message(401, problem("session-timed-out", "logged off automatically"), "alice"))
                .contains("logged off automatically [session-timed-out]", "log in: carevisor login alice");
        assertThat(ApiClient.message(401, ApiClient.json().nullNode(), null))
                .contains("HTTP 401", "log in: carevisor login USER");
        assertThat(ApiClient.message(401, problem("login-failed", "user name or password is wrong"), null))
                .doesNotContain("log in:");
        assertThat(ApiClient.message(403, problem("signature-required", "template.qualify is a critical action"),
                null)).contains("add --sign approved");
    }

    @Test
    void headersCarryTokenAndReason() {
        JsonNode body = ApiClient.json().createObjectNode().put("cpus", 2);
        Map<String, String> h = ApiClient.headers(" cvs_abc\n", "CHG-1234 replace disk", "PATCH", body,
                "application/json");
        assertThat(h).containsEntry("Authorization", "Bearer cvs_abc")
                .containsEntry("Carevisor-Reason", "CHG-1234 replace disk")
                .containsEntry("Content-Type", "application/json")
                .containsEntry("Accept", "application/json");

        Map<String, String> none = ApiClient.headers(null, null, "GET", null, "*/*");
        assertThat(none).containsOnlyKeys("Accept");
    }

    @Test
    void nonAsciiReasonsAreNeverSentGarbled() {
        String reason = "Änderung – Ticket 7";
        // the body carries the reason itself: the header is left out
        JsonNode withReason = ApiClient.json().createObjectNode().put("reason", reason);
        assertThat(ApiClient.headers("t", reason, "POST", withReason, "application/json"))
                .doesNotContainKey("Carevisor-Reason");
        // reads need no reason
        assertThat(ApiClient.headers("t", reason, "GET", null, "application/json"))
                .doesNotContainKey("Carevisor-Reason");
        // a change that can carry it only in the header is refused
        assertThatThrownBy(() -> ApiClient.headers("t", reason, "DELETE", null, "application/json"))
                .isInstanceOf(CliException.class).hasMessageContaining("ASCII")
                .extracting(e -> ((CliException) e).exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(ApiClient.headerSafe("CHG-1234: replace disk\t(ok)")).isTrue();
        assertThat(ApiClient.headerSafe("two\nlines")).isFalse();
    }

    @Test
    void fileNameOfContentDisposition() {
        assertThat(ApiClient.filename("attachment; filename=\"carevisor-audit-20261122T101500Z.csv\""))
                .isEqualTo("carevisor-audit-20261122T101500Z.csv");
        assertThat(ApiClient.filename("attachment; filename=report.pdf")).isEqualTo("report.pdf");
        assertThat(ApiClient.filename("attachment; filename=\"../../etc/passwd\"")).isEqualTo("passwd");
        assertThat(ApiClient.filename("attachment; filename=\"..\"")).isNull();
        assertThat(ApiClient.filename("attachment")).isNull();
        assertThat(ApiClient.filename(null)).isNull();
    }

    @org.junit.jupiter.api.Test
    void sizesTakeUnitsAndFieldNamesAreSaidAsOptions() {
        assertThat(MemorySize.mib("512")).isEqualTo(512);
        assertThat(MemorySize.mib("512M")).isEqualTo(512);
        assertThat(MemorySize.mib("2G")).isEqualTo(2048);
        assertThat(MemorySize.mib("1TB")).isEqualTo(1024 * 1024);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> MemorySize.mib("lots"))
                .hasMessageContaining("MiB (e.g. 512)").hasMessageContaining("2G");
        assertThat(ApiClient.cliWords("memoryMiB: must be at most the host's 4096 MiB"))
                .isEqualTo("--memory (MiB): must be at most the host's 4096 MiB");
        assertThat(ApiClient.cliWords("disks[0].sizeMiB: must be at least 1")).isEqualTo("--disk (MiB): must be at least 1");
        assertThat(ApiClient.cliWords("the cpus field")).isEqualTo("the cpus field");
    }
}
