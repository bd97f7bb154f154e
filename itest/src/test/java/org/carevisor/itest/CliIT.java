package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.carevisor.cli.CarevisorCli;
import org.carevisor.cli.ExitCodes;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Poll;
import org.junit.jupiter.api.Test;

/** The carevisor CLI against a real manager and agent: tables, --json, console, exit codes. */
class CliIT extends ApplianceLabTest {
    @Override
    int guestPortFrom() {
        return 21600;
    }

    /** Output and exit code of one CLI run. */
    record Run(int code, String out, String err) {
    }



    private String token;

    Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CarevisorCli root = new CarevisorCli(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        if (token == null) {
            token = lab.login(org.carevisor.testkit.Lab.ADMIN, org.carevisor.testkit.Lab.ADMIN_PASSWORD);
        }
        root.token(token).passwords(prompt -> org.carevisor.testkit.Lab.ADMIN_PASSWORD)
                .sessionFile(dir.resolve("cli-session"));
        String[] full = new String[args.length + 4];
        full[0] = "--url";
        full[1] = lab.managerUrl();
        full[2] = "--ca";
        full[3] = lab.managerCa().toString();
        System.arraycopy(args, 0, full, 4, args.length);
        int code = CarevisorCli.execute(root, full);
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void vmLifecycleThroughTheCli() throws Exception {
        Run hosts = cli("host", "list");
        assertThat(hosts.code()).isZero();
        assertThat(hosts.out()).contains("NAME", "lab-host", "connected", "tcg");
        assertThat(cli("image", "list").out()).contains("carevisor-appliance");

        Run created = cli("vm", "create", "cli-1", "--image", "carevisor-appliance", "--memory", "128", "--start");
        assertThat(created.code()).as(created.err()).isZero();
        assertThat(created.out()).contains("VM cli-1 created and started");

        Run list = cli("vm", "list");
        assertThat(list.out()).contains("NAME", "STATE", "cli-1", "running");
        Run json = cli("vm", "show", "cli-1", "--json");
        JsonNode vm = Http.json().readTree(json.out());
        assertThat(vm.path("state").asText()).isEqualTo("running");

        lab.guest("cli-1").awaitReady(Duration.ofSeconds(90));
        String console = Poll.until(Duration.ofSeconds(20), "console marker", () -> {
            Run c = cli("vm", "console", "cli-1");
            return c.out().contains("CAREVISOR-GUEST-READY boot_id=") ? c.out() : null;
        });
        assertThat(console).contains("CAREVISOR-GUEST-READY");

        Run again = cli("vm", "start", "cli-1");
        assertThat(again.code()).isEqualTo(ExitCodes.CONFLICT);
        assertThat(again.err()).contains("already running", "vm-already-running");

        Run stop = cli("vm", "stop", "cli-1", "--timeout", "60");
        assertThat(stop.code()).as(stop.err()).isZero();
        assertThat(stop.out()).contains("stopped");

        Run set = cli("vm", "set", "cli-1", "--cpus", "1", "--memory", "160");
        assertThat(set.code()).isZero();
        assertThat(set.out()).contains("160 MiB");

        Run history = cli("vm", "history", "cli-1");
        assertThat(history.out()).contains("vm.create", "vm.shutdown", "vm.update");
        assertThat(cli("task", "list").out()).contains("vm.shutdown", "succeeded");

        Run deleted = cli("vm", "delete", "cli-1");
        assertThat(deleted.code()).isZero();
        assertThat(cli("vm", "show", "cli-1").code()).isEqualTo(ExitCodes.NOT_FOUND);
    }

    @Test
    void templatesSnapshotsAndExportsThroughTheCli() throws Exception {
        assertThat(cli("vm", "create", "cli-master", "--image", "carevisor-appliance", "--memory", "128").code()).isZero();
        Run made = cli("template", "create", "cli-master", "--guest-os", "busybox", "--description", "CLI master");
        assertThat(made.code()).as(made.err()).isZero();
        assertThat(made.out()).contains("template cli-master v1 made from VM cli-master");
        Run unsigned = cli("template", "qualify", "cli-master", "--reason", "OQ-17");
        assertThat(unsigned.code()).as("a missing signature is its own category").isEqualTo(ExitCodes.SIGNATURE);
        assertThat(unsigned.err()).contains("signature", "--sign");
        Run qualified = cli("template", "qualify", "cli-master", "--reason", "OQ-17", "--sign", "approved");
        assertThat(qualified.code()).as(qualified.err()).isZero();
        assertThat(cli("template", "list").out()).contains("cli-master", "qualified", "busybox");
        Run deployed = cli("template", "deploy", "cli-master", "cli-clone", "--start");
        assertThat(deployed.code()).as(deployed.err()).isZero();
        lab.guest("cli-clone").awaitReady(BOOT);

        assertThat(cli("snapshot", "create", "cli-clone", "first", "--memory").code()).isZero();
        assertThat(cli("snapshot", "create", "cli-clone", "second").code()).isZero();
        Run tree = cli("snapshot", "list", "cli-clone");
        assertThat(tree.out()).contains("first", "└─ second *", "yes", "running");
        Run revert = cli("snapshot", "revert", "cli-clone", "first");
        assertThat(revert.code()).as(revert.err()).isZero();
        assertThat(cli("snapshot", "list", "cli-clone").out()).contains("first *");
        Run taken = cli("snapshot", "create", "cli-clone", "first");
        assertThat(taken.code()).isEqualTo(ExitCodes.CONFLICT);
        assertThat(taken.err()).contains("snapshot-name-taken");

        Run noReason = cli("template", "delete", "cli-master");
        assertThat(noReason.code()).as("a qualified template needs a reason").isEqualTo(ExitCodes.SIGNATURE);
        assertThat(noReason.err()).contains("reason");
        Run inUse = cli("template", "delete", "cli-master", "--reason", "clean-up");
        assertThat(inUse.code()).isEqualTo(ExitCodes.CONFLICT);
        assertThat(inUse.err()).contains("cli-clone");
        assertThat(cli("vm", "poweroff", "cli-clone").code()).isZero();
        Run exported = cli("vm", "export", "cli-clone");
        assertThat(exported.code()).as(exported.err()).isZero();
        assertThat(exported.out()).contains("exported to /", "/exports/cli-clone-", ".cva", "SHA-256",
                "carevisor vm import cli-clone-");
    }

    @Test
    void errorsHaveStableExitCodesAndClearMessages() {
        Run invalid = cli("vm", "create", "bad/name", "--image", "carevisor-appliance");
        assertThat(invalid.code()).isEqualTo(ExitCodes.INVALID);
        assertThat(invalid.err()).contains("name", "'/'");

        Run usage = cli("vm", "create");
        assertThat(usage.code()).isEqualTo(ExitCodes.USAGE);

        // said in the CLI's words: the option and its unit, the command to list images, what names may hold
        Run huge = cli("vm", "create", "huge", "--image", "carevisor-appliance", "--memory", "1TB");
        assertThat(huge.code()).isEqualTo(ExitCodes.INVALID);
        assertThat(huge.err()).contains("--memory (MiB)").doesNotContain("memoryMiB", "--memory-mib");
        Run unit = cli("vm", "create", "x", "--memory", "lots");
        assertThat(unit.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(unit.err()).contains("--memory", "512M", "2G");
        Run noImage = cli("vm", "create", "nothing-to-boot");
        assertThat(noImage.code()).isEqualTo(ExitCodes.INVALID);
        assertThat(noImage.err()).contains("needs a disk", "carevisor image list");
        Run umlaut = cli("vm", "create", "Röntgen-01", "--image", "carevisor-appliance");
        assertThat(umlaut.code()).isEqualTo(ExitCodes.INVALID);
        assertThat(umlaut.err()).contains("ASCII", "U+00F6", "description");
        Run badImage = cli("vm", "create", "x2", "--image", "no-such-image");
        assertThat(badImage.err()).contains("carevisor image list");
        assertThat(cli("vm", "list").out()).doesNotContain("huge", "nothing-to-boot");

        Run unknown = cli("vm", "start", "no-such-vm");
        assertThat(unknown.code()).isEqualTo(ExitCodes.NOT_FOUND);
        assertThat(unknown.err()).contains("no-such-vm");

        Run help = cli("vm", "--help");
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("create", "shutdown", "console", "clone", "export", "import", "archive");
        assertThat(cli("template", "--help").out()).contains("qualify", "deploy", "retire");
        assertThat(cli("snapshot", "--help").out()).contains("create", "revert", "delete");

        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CarevisorCli root = new CarevisorCli(new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        int code = CarevisorCli.execute(root, "--url", "http://127.0.0.1:1", "vm", "list");
        assertThat(code).isEqualTo(ExitCodes.UNREACHABLE);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("cannot reach the Carevisor manager");
    }
}
