package org.carevisor.manager.ha.fence;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Tls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fence agents against things that behave like the real ones: a fake BMC speaking Redfish over real
 * TLS (a certificate from a test CA), a fake {@code ipmitool} script, and real processes in a real network
 * namespace for the lab agent. The fakes are named as such: no BMC exists on this machine.
 */
class FenceAgentTest {
    @TempDir
    Path dir;

    @Test
    void redfishForceOffOverTls() throws Exception {
        CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir.resolve("ca"), "BMC test CA");
        var keys = Keys.generate();
        var cert = ca.issue(keys.getPublic(), "bmc", List.of("127.0.0.1"), Duration.ofDays(1));
        HttpsServer fakeBmc = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        fakeBmc.setHttpsConfigurator(new HttpsConfigurator(Tls.context(new Tls.Identity(keys.getPrivate(), cert,
                ca.certificate()))));
        List<String> requests = Collections.synchronizedList(new ArrayList<>());
        String[] power = {"On"};
        fakeBmc.createContext("/redfish/v1/Systems/1", ex -> {
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            requests.add(ex.getRequestMethod() + " " + ex.getRequestURI() + " " + body);
            byte[] answer;
            int status;
            if (!("Basic " + java.util.Base64.getEncoder().encodeToString("fence:secret".getBytes())).equals(auth)) {
                status = 401;
                answer = new byte[0];
            } else if (ex.getRequestMethod().equals("POST")) {
                power[0] = body.contains("ForceOff") ? "Off" : power[0];
                status = 204;
                answer = new byte[0];
            } else {
                status = 200;
                answer = ("{\"Id\":\"1\",\"PowerState\":\"" + power[0] + "\"}").getBytes(StandardCharsets.UTF_8);
            }
            ex.sendResponseHeaders(status, answer.length == 0 ? -1 : answer.length);
            if (answer.length > 0) {
                ex.getResponseBody().write(answer);
            }
            ex.close();
        });
        fakeBmc.start();
        try {
            URI base = URI.create("https://127.0.0.1:" + fakeBmc.getAddress().getPort());
            FenceAgent.Result wrong = new RedfishFenceAgent(base, "1", "fence", "nope", Tls.pinned(ca.fingerprint()))
                    .powerOff(Duration.ofSeconds(5));
            assertThat(wrong.off()).isFalse();
            assertThat(wrong.detail()).contains("401", "password");
            assertThat(power[0]).isEqualTo("On");
            FenceAgent.Result ok = new RedfishFenceAgent(base, "1", "fence", "secret", Tls.pinned(ca.fingerprint()))
                    .powerOff(Duration.ofSeconds(5));
            assertThat(ok.off()).as(ok.detail()).isTrue();
            assertThat(requests).anySatisfy(r -> assertThat(r).startsWith(
                    "POST /redfish/v1/Systems/1/Actions/ComputerSystem.Reset").contains("\"ResetType\":\"ForceOff\""));
            // a BMC whose certificate is not from the expected CA is refused
            CertificateAuthority other = CertificateAuthority.loadOrCreate(dir.resolve("other"), "other CA");
            FenceAgent.Result untrusted = new RedfishFenceAgent(base, "1", "fence", "secret",
                    Tls.pinned(other.fingerprint())).powerOff(Duration.ofSeconds(5));
            assertThat(untrusted.off()).isFalse();
            assertThat(untrusted.detail()).contains("unreachable");
        } finally {
            fakeBmc.stop(0);
        }
    }

    @Test
    void ipmitoolGetsThePasswordInTheEnvironmentOnly() throws Exception {
        // a fake ipmitool: records its arguments and IPMI_PASSWORD, keeps the power state in a file
        Path state = dir.resolve("power");
        Files.writeString(state, "on");
        Path calls = dir.resolve("calls");
        Path fake = dir.resolve("ipmitool");
        Files.writeString(fake, """
                #!/bin/sh
                echo "$* | pw=$IPMI_PASSWORD" >> %s
                case "$*" in
                  *"power off") echo off > %s; echo "Chassis Power Control: Down/Off" ;;
                  *"power status") echo "Chassis Power is $(cat %s)" ;;
                  *) exit 1 ;;
                esac
                """.formatted(calls, state, state));
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwx------"));
        IpmiFenceAgent agent = new IpmiFenceAgent(fake.toString(), "10.0.9.21", "fence", "s3cret");
        assertThat(agent.argv("chassis", "power", "off")).doesNotContain("s3cret").contains("-E", "lanplus",
                "10.0.9.21");
        FenceAgent.Result r = agent.powerOff(Duration.ofSeconds(10));
        assertThat(r.off()).as(r.detail()).isTrue();
        assertThat(r.detail()).contains("Chassis Power is off");
        List<String> log = Files.readAllLines(calls);
        assertThat(log.get(0)).contains("chassis power off", "pw=s3cret").doesNotContain("-P");
        // a BMC that never reports off
        Files.writeString(fake, "#!/bin/sh\necho \"Chassis Power is on\"\n");
        FenceAgent.Result stuck = agent.powerOff(Duration.ofSeconds(2));
        assertThat(stuck.off()).isFalse();
        assertThat(stuck.detail()).contains("did not confirm");
    }

    @Test
    void labAgentKillsEveryProcessOfTheNamespace() throws Exception {
        assumeTrue(System.getProperty("user.name").equals("root"), "needs root for network namespaces");
        String ns = "cvfence" + ProcessHandle.current().pid() % 100000;
        run("ip", "netns", "add", ns);
        try {
            Process a = new ProcessBuilder("ip", "netns", "exec", ns, "sleep", "300").start();
            Process b = new ProcessBuilder("ip", "netns", "exec", ns, "sleep", "300").start();
            Thread.sleep(300);
            FenceAgent.Result r = new LabFenceAgent(ns).powerOff(Duration.ofSeconds(10));
            assertThat(r.off()).as(r.detail()).isTrue();
            assertThat(a.waitFor(5, TimeUnit.SECONDS)).isTrue();
            assertThat(b.waitFor(5, TimeUnit.SECONDS)).isTrue();
            assertThat(r.detail()).contains("no process left");
        } finally {
            run("ip", "netns", "delete", ns);
        }
        assertThat(new LabFenceAgent("cvfence-missing").powerOff(Duration.ofSeconds(2)).off()).isFalse();
    }

    private static void run(String... cmd) throws Exception {
        new ProcessBuilder(cmd).inheritIO().start().waitFor(10, TimeUnit.SECONDS);
    }
}
