package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Poll;
import org.carevisor.testkit.QemuProcesses;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's flow through the real launcher script: up --detach, create and start a VM with the CLI,
 * down (which shuts the VM down), and a second up on the same state directory that finds the VM and its
 * history and starts it again.
 */
class LauncherIT {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    @TempDir
    Path dir;

    /** Exit code and output of one launcher run. */
    record Run(int code, String output) {
    }

    private Run carevisor(String... args) throws IOException, InterruptedException {
        return carevisorWithInput(null, args);
    }

    /** Runs the launcher with {@code input} (when not null) on its standard input. */
    private Run carevisorWithInput(String input, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(ROOT.resolve("carevisor").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile()).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.put("CAREVISOR_VAR", dir.resolve("var").toString());
        env.put("CAREVISOR_SKIP_BUILD", "1");
        env.put("CAREVISOR_ACCEL", "tcg");
        env.put("JAVA_HOME", System.getProperty("java.home"));
        Path out = dir.resolve("launcher-" + System.nanoTime() + ".log");
        if (input != null) {
            Path in = dir.resolve("launcher-input-" + System.nanoTime());
            Files.writeString(in, input);
            pb.redirectInput(in.toFile());
        }
        Process p = pb.redirectOutput(out.toFile()).start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("./carevisor " + String.join(" ", args) + " did not finish");
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    }

    @AfterEach
    void cleanUp() throws Exception {
        carevisor("down", "--keep-vms");
        QemuProcesses.killAll(dir.toString());
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void upCreateDownUpAgain() throws Exception {
        String port = Integer.toString(freePort());
        String agentPort = Integer.toString(freePort());
        Run up = carevisor("up", "--detach", "--port", port, "--agent-port", agentPort, "--guest-port-range",
                "21800-21899");
        assertThat(up.code()).as(up.output()).isZero();
        assertThat(up.output()).contains("Carevisor is running", "https://127.0.0.1:" + port + "/",
                "fingerprint sha256:", "--cacert " + dir.resolve("var/manager/pki/api-ca.crt"));
        assertThat(carevisor("status").output()).contains("manager: running", "agent:   running");

        Run created = carevisor("vm", "create", "lab-01", "--image", "carevisor-appliance", "--memory", "128",
                "--start");
        assertThat(created.code()).as(created.output()).isZero();
        // the first up created the administrator with a generated password and logged the CLI in
        Path password = dir.resolve("var/manager/initial-admin-password");
        assertThat(up.output()).contains("created the administrator 'admin'", password.toString());
        assertThat(java.nio.file.Files.getPosixFilePermissions(password))
                .containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                        java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
        Path ca = dir.resolve("var/manager/pki/api-ca.crt");
        assertThat(new Http("https://127.0.0.1:" + port, ca).get("/api/v1/vms").status()).isEqualTo(401);
        Http api = new Http("https://127.0.0.1:" + port, ca).login("admin", Files.readString(password).strip());
        assertThat(carevisor("whoami").output()).contains("admin");
        int guestPort = api.get("/api/v1/vms/lab-01").json().path("guestPort").asInt();
        GuestProbe guest = new GuestProbe("127.0.0.1", guestPort);
        GuestProbe.Status first = guest.awaitReady(Duration.ofSeconds(90));
        assertThat(api.get("/").text()).contains("<title>Carevisor</title>");

        // down with the CLI logged in as a user who may not stop VMs: refused, naming the VM and why; nothing stops
        String url = "https://127.0.0.1:" + port;
        api.post("/api/v1/users", "{\"username\":\"anna\",\"fullName\":\"Anna Keller\",\"password\":"
                + "\"Initial-Pass-123\",\"roles\":[{\"role\":\"auditor\",\"scope\":\"global\"}]}").expect(201);
        new Http(url, ca).login("anna", "Initial-Pass-123").post("/api/v1/auth/password",
                "{\"currentPassword\":\"Initial-Pass-123\",\"newPassword\":\"Changed-Pass-456\"}").expect(204);
        Run asAuditor = carevisorWithInput("Changed-Pass-456\n", "login", "anna", "--password-stdin");
        assertThat(asAuditor.code()).as(asAuditor.output()).isZero();
        Run refused = carevisor("down");
        assertThat(refused.code()).as(refused.output()).isNotZero();
        assertThat(refused.output()).contains("refusing to stop", "lab-01", "lacks the privilege", "--keep-vms")
                .doesNotContain("manager stopped", "agent stopped");
        assertThat(QemuProcesses.find(dir.toString())).as("the VM runs on").isNotEmpty();
        assertThat(carevisor("status").output()).contains("manager: running", "agent:   running");
        assertThat(guest.status().bootId()).isEqualTo(first.bootId());
        Run asAdmin = carevisorWithInput(Files.readString(password).strip() + "\n", "login", "admin",
                "--password-stdin");
        assertThat(asAdmin.code()).as(asAdmin.output()).isZero();

        Run down = carevisor("down");
        assertThat(down.code()).as(down.output()).isZero();
        assertThat(down.output()).contains("shutting down running VMs", "agent stopped", "manager stopped");
        assertThat(QemuProcesses.find(dir.toString())).as("down shut the VM down").isEmpty();
        assertThat(carevisor("status").output()).contains("manager: stopped");

        Run again = carevisor("up", "--detach", "--port", port, "--agent-port", agentPort, "--guest-port-range",
                "21800-21899");
        assertThat(again.code()).as(again.output()).isZero();
        Run list = carevisor("vm", "list");
        assertThat(list.output()).contains("lab-01");
        GuestProbe.Status second = Poll.until(Duration.ofSeconds(90), "lab-01 to run again after the second up",
                () -> {
                    try {
                        return guest.status();
                    } catch (IOException e) {
                        return null;
                    }
                });
        assertThat(second.bootId()).isNotEqualTo(first.bootId());
        assertThat(second.bootCount()).isEqualTo(first.bootCount() + 1);
        assertThat(carevisor("vm", "history", "lab-01").output()).contains("vm.create", "vm.reconcile.start");
    }
}
