package org.carevisor.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every error code the manager answers with, and the CLI's exit code for it: the table below is the reviewed
 * list. A new code in the manager's sources fails this test until it is added here with its category, so a script
 * that checks exit codes never meets a code nobody decided on. Missing reasons and signatures are their own
 * category (12), not "forbidden" (10).
 */
class ExitCodesTest {
    /** status, code, exit code. */
    private static final String TABLE = """
            400 bad-request                        5
            400 body-missing                       5
            400 body-unreadable                    5
            400 export-too-large                   5
            400 https-required                     5
            400 import-source-refused              5
            400 malformed-json                     5
            400 protocol-version-mismatch          5
            400 reason-required                    12
            400 report-invalid                     5
            400 validation-failed                  5
            401 client-certificate-required        9
            401 join-token-expired                 9
            401 join-token-invalid                 9
            401 join-token-used                    9
            401 login-failed                       9
            401 not-authenticated                  9
            401 session-timed-out                  9
            401 token-expired                      9
            403 account-disabled                   10
            403 account-locked                     10
            403 certificate-revoked                10
            403 exceeds-own-privileges             10
            403 forbidden                          10
            403 host-mismatch                      10
            403 host-not-enrolled                  10
            403 host-token-required                10
            403 join-token-host-mismatch           10
            403 not-a-host                         10
            403 password-change-required           10
            403 password-expired                   10
            403 report-refused                     10
            403 signature-invalid                  12
            403 signature-required                 12
            403 wrong-password                     10
            404 no-such-endpoint                   3
            404 not-found                          3
            405 method-not-allowed                 1
            409 address-in-use                     4
            409 already-assigned                   4
            409 archive-cleanup-failed             4
            409 archive-mismatch                   4
            409 busy                               4
            409 cluster-default                    4
            409 cluster-not-empty                  4
            409 cpu-model-unsupported              4
            409 delete-incomplete                  4
            409 evacuation-incomplete              4
            409 export-changed                     4
            409 host-name-in-use                   4
            409 host-not-empty                     4
            409 id-taken                           4
            409 join-token-host-gone               4
            409 last-administrator                 4
            409 local-storage                      4
            409 mac-taken                          4
            409 migration-cancelled                4
            409 name-taken                         4
            409 network-builtin                    4
            409 network-in-use                     4
            409 network-pool-exhausted             4
            409 no-free-port                       4
            409 not-in-maintenance                 4
            409 password-changed                   4
            409 placement-refused                  4
            409 port-in-use                        4
            409 report-outdated                    4
            409 role-builtin                       4
            409 role-in-use                        4
            409 rule-conflict                      4
            409 same-host                          4
            409 snapshot-name-taken                4
            409 snapshot-of-another-vm             4
            409 snapshot-unsupported               4
            409 start-failed                       4
            409 storage-domain-mismatch            4
            409 task-finished                      4
            409 task-not-cancellable               4
            409 template-in-use                    4
            409 template-retired                   4
            409 template-state                     4
            409 template-tampered                  4
            409 vm-already-running                 4
            409 vm-busy                            4
            409 vm-gxp                             4
            409 vm-has-snapshots                   4
            409 vm-not-archived                    4
            409 vm-not-ready                       4
            409 vm-not-running                     4
            409 vm-running                         4
            413 body-too-large                     1
            415 unsupported-media-type             1
            422 invalid-export                     5
            422 review-period-empty                5
            429 too-many-attempts                  1
            429 too-many-requests                  1
            502 migration-in-doubt                 1
            502 migration-uri-refused              1
            503 auth-busy                          1
            503 busy                               1
            503 host-unavailable                   1
            503 no-host                            1
            504 timeout                            1
            """;

    private static final Pattern THROWN = Pattern.compile(
            "new ApiException\\(([0-9]{3}), \"([a-z0-9-]+)\"|ApiException\\.(conflict|unavailable)\\(\"([a-z0-9-]+)\"");

    private static Map<String, Integer> table() {
        Map<String, Integer> t = new LinkedHashMap<>();
        for (String line : TABLE.strip().split("\n")) {
            String[] f = line.strip().split(" +");
            t.put(f[0] + " " + f[1], Integer.parseInt(f[2]));
        }
        return t;
    }

    /** The (status, code) pairs thrown in the manager's sources, plus those of its factory methods. */
    private static TreeSet<String> thrown() throws IOException {
        TreeSet<String> found = new TreeSet<>();
        found.add("400 validation-failed"); // ApiException.invalid
        found.add("404 not-found");         // ApiException.notFound
        Path sources = Path.of("..", "manager", "src", "main", "java");
        try (Stream<Path> files = Files.walk(sources)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                Matcher m = THROWN.matcher(Files.readString(f));
                while (m.find()) {
                    found.add(m.group(1) != null ? m.group(1) + " " + m.group(2)
                            : (m.group(3).equals("conflict") ? "409 " : "503 ") + m.group(4));
                }
            }
        }
        return found;
    }

    @Test
    void everyErrorCodeOfTheManagerHasItsExitCode() throws IOException {
        Map<String, Integer> table = table();
        TreeSet<String> thrown = thrown();
        assertThat(thrown).as("the manager's sources were read").hasSizeGreaterThan(50);
        TreeSet<String> missing = new TreeSet<>(thrown);
        missing.removeAll(table.keySet());
        assertThat(missing).as("error codes without a decided exit code: add them to the table").isEmpty();
        TreeSet<String> stale = new TreeSet<>(table.keySet());
        stale.removeAll(thrown);
        assertThat(stale).as("codes in the table that the manager no longer answers with: remove them").isEmpty();
        table.forEach((key, exit) -> {
            String[] f = key.split(" ");
            assertThat(ExitCodes.forProblem(Integer.parseInt(f[0]), f[1])).as(key).isEqualTo(exit);
        });
    }

    @Test
    void categoriesAsDocumented() {
        assertThat(ExitCodes.forProblem(403, "signature-required")).isEqualTo(ExitCodes.SIGNATURE).isEqualTo(12);
        assertThat(ExitCodes.forProblem(400, "reason-required")).isEqualTo(12);
        assertThat(ExitCodes.forProblem(403, "forbidden")).isEqualTo(ExitCodes.FORBIDDEN).isEqualTo(10);
        assertThat(ExitCodes.forProblem(500, null)).isEqualTo(ExitCodes.ERROR);
        assertThat(ExitCodes.forProblem(409, "vm-running")).isEqualTo(ExitCodes.CONFLICT);
    }
}
