package org.carevisor.itest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.NutServer;
import org.carevisor.testkit.Poll;
import org.carevisor.testkit.QemuProcesses;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Orderly site shutdown in a two-host lab watched through a real UPS server (Debian's upsd with the dummy-ups
 * driver): on battery is recorded, battery low shuts the site down - VMs in reverse start order, then the hosts
 * (the lab agents end) - with no host suspected or fenced although lab fencing is configured; when power is back
 * and the hosts start again, the VMs start in start order. An operator's shutdown is refused without a reason and
 * can be cancelled before its hosts switch off.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SiteShutdownIT extends ClusterLabTest {
    private NutServer nut;

    @Override
    int guestPortFrom() {
        return 25400;
    }

    @Override
    int hosts() {
        return 2;
    }

    @Override
    List<String> managerOptions() throws Exception {
        nut = NutServer.start(dir.resolve("nut"), "serverroom");
        return List.of("--ups", nut.target(), "--ups-vm-timeout-seconds", "20");
    }

    @AfterAll
    void stopNut() {
        if (nut != null) {
            nut.close();
        }
    }

    @Test
    @Order(1)
    void badRequestsChangeNothing() {
        Http api = lab.api();
        Http.Response r = api.post("/api/v1/site/shutdown", "{}");
        assertThat(r.status()).as(r.text()).isEqualTo(400);
        assertThat(r.json().path("detail").asText()).contains("needs a reason");
        r = api.post("/api/v1/site/shutdown", "{\"reason\":\"test\",\"vmTimeoutSeconds\":99999}");
        assertThat(r.status()).as(r.text()).isEqualTo(400);
        assertThat(r.json().path("detail").asText()).contains("vmTimeoutSeconds").contains("between 0 and 3600");
        r = api.post("/api/v1/site/shutdown", "{\"reason\":\"test\",\"turbo\":true}");
        assertThat(r.status()).as(r.text()).isEqualTo(400);
        r = api.post("/api/v1/site/resume", "{}");
        assertThat(r.status()).as(r.text()).isEqualTo(409);
        assertThat(r.json().path("code").asText()).isEqualTo("no-site-shutdown");
        assertThat(api.get("/api/v1/site").json().has("shutdown")).as("no site shutdown recorded").isFalse();
    }

    @Test
    @Order(2)
    void batteryLowShutsTheSiteDownInOrderAndItComesBackInStartOrder() throws Exception {
        Http api = lab.api();
        for (int i = 1; i <= 2; i++) { // HA would fence a host it judged dead: it must not judge so
            api.patch("/api/v1/hosts/lab-h" + i + "/fence", "{\"kind\":\"lab\",\"target\":\""
                    + lab.network().namespace(i) + "\"}").expect(200);
        }
        bridgedVm("db", 192, "lab-h1");
        bridgedVm("app", 192, "lab-h2");
        bridgedVm("misc", 128, "lab-h1");
        api.patch("/api/v1/vms/db/ha", "{\"enabled\":true,\"priority\":100}").expect(200);
        api.patch("/api/v1/vms/app/ha", "{\"enabled\":true,\"priority\":100,\"dependsOn\":[\"db\"]}").expect(200);
        Map<String, String> boots = new LinkedHashMap<>();
        for (String vm : List.of("db", "app", "misc")) {
            boots.put(vm, lab.guest(vm).awaitReady(BOOT).bootId());
        }
        JsonNode plan = api.get("/api/v1/site").json().path("plan");
        assertThat(plan.toString()).contains("\"vms\":[\"misc\"]", "\"vms\":[\"app\"]", "\"vms\":[\"db\"]");
        long seq = lastAuditSeq();

        // on battery: recorded, nothing stops
        nut.status("OB", 70, 1200);
        Poll.until(Duration.ofSeconds(20), "ups.on-battery in the audit trail", () -> actions(seq)
                .contains("ups.on-battery serverroom") ? true : null);
        assertThat(api.get("/api/v1/site").json().has("shutdown")).as("no site shutdown recorded").isFalse();
        assertThat(api.get("/api/v1/health").text()).contains("ups-on-battery");

        // battery low: the site shuts down in order, then the lab hosts switch off (their agents end)
        nut.status("OB LB", 9, 120);
        JsonNode done = Poll.until(Duration.ofSeconds(240), "the UPS-started site shutdown to finish", () -> {
            JsonNode s = api.get("/api/v1/site").json().path("shutdown");
            return !s.isNull() && !s.isMissingNode() && !s.path("state").asText().equals("running") ? s : null;
        });
        assertThat(done.path("state").asText()).as(done.toString()).isEqualTo("succeeded");
        assertThat(done.path("trigger").asText()).isEqualTo("ups");
        assertThat(done.path("reason").asText()).contains("serverroom").contains("battery low");
        List<String> vmSteps = new ArrayList<>();
        List<String> hostSteps = new ArrayList<>();
        for (JsonNode st : done.path("steps")) {
            (st.path("kind").asText().equals("vm") ? vmSteps : hostSteps).add(st.path("targetName").asText() + " "
                    + st.path("wave").asInt() + " " + st.path("outcome").asText());
        }
        assertThat(vmSteps).containsExactly("misc 1 stopped", "app 2 stopped", "db 3 stopped");
        assertThat(hostSteps).containsExactlyInAnyOrder("lab-h1 0 switched-off", "lab-h2 0 switched-off");
        Poll.until(Duration.ofSeconds(20), "the lab agents to end", () -> lab.hosts().stream()
                .noneMatch(h -> h.process().alive()) ? true : null);
        assertThat(QemuProcesses.find(dir.toString())).as("no guest runs after the site shutdown").isEmpty();
        for (String vm : List.of("db", "app", "misc")) {
            assertThat(lab.vm(vm).path("powerState").asText()).as(vm + " keeps its desired state").isEqualTo("running");
        }

        // silent hosts, lab fencing configured: longer than the host timeout, and nothing is suspected or fenced
        Thread.sleep(12_000);
        List<String> during = actions(seq);
        assertThat(during).contains("site.shutdown.start site", "site.shutdown.done site", "ups.battery-low serverroom",
                "ups.shutdown serverroom", "site.shutdown.host lab-h1", "site.shutdown.host lab-h2");
        assertThat(during).noneMatch(a -> a.startsWith("ha.suspect") || a.startsWith("ha.fence")
                || a.startsWith("host.fence") || a.startsWith("ha.dead") || a.startsWith("vm.ha-restart"));
        assertThat(during.indexOf("site.shutdown.vm misc")).isLessThan(during.indexOf("site.shutdown.vm app"));
        assertThat(during.indexOf("site.shutdown.vm app")).isLessThan(during.indexOf("site.shutdown.vm db"));
        JsonNode status = api.get("/api/v1/site").json();
        assertThat(status.path("hosts").toString()).contains("switched-off").doesNotContain("\"up\"");
        assertThat(status.path("ups").get(0).path("status").asText()).isEqualTo("OB LB");

        // power is back; the hosts boot: the VMs start in start order (db before the app that needs it)
        long back = lastAuditSeq();
        nut.status("OL", 40, 2400);
        Poll.until(Duration.ofSeconds(20), "ups.online in the audit trail", () -> actions(back)
                .contains("ups.online serverroom") ? true : null);
        // the app's host boots first: the app waits for its database, whose host is still off
        lab.startAgent(1);
        Poll.until(Duration.ofSeconds(60), "site.host-back lab-h2 in the audit trail", () -> actions(back)
                .contains("site.host-back lab-h2") ? true : null);
        Thread.sleep(6_000);
        assertThat(actions(back)).as("app waits while db's host is off").doesNotContain("vm.reconcile.start app");
        lab.startAgent(0);
        lab.awaitHostConnected();
        for (String vm : List.of("db", "app", "misc")) {
            GuestProbe.Status s = Poll.until(BOOT.multipliedBy(2), vm + " to answer after a new boot", () -> {
                try {
                    GuestProbe.Status st = lab.guest(vm).status();
                    return st.bootId().equals(boots.get(vm)) ? null : st;
                } catch (Exception e) {
                    return null;
                }
            });
            assertThat(s.bootId()).isNotEqualTo(boots.get(vm));
        }
        List<String> after = actions(back);
        assertThat(after).contains("site.host-back lab-h1", "site.host-back lab-h2");
        assertThat(after.indexOf("vm.reconcile.start db")).as(after.toString()).isGreaterThanOrEqualTo(0)
                .isLessThan(after.indexOf("vm.reconcile.start app"));
        assertThat(after).noneMatch(a -> a.startsWith("ha.fence") || a.startsWith("host.fence")
                || a.startsWith("ha.dead"));
        assertThat(api.get("/api/v1/site").json().path("hosts").toString()).doesNotContain("switched-off");
    }

    @Test
    @Order(3)
    void anOperatorsShutdownIsCancelledBeforeTheHostsSwitchOff() throws Exception {
        Http api = lab.api();
        String miscBoot = lab.guest("misc").awaitReady(BOOT).bootId();
        Http.Response r = api.post("/api/v1/site/shutdown", "{\"reason\":\"CHG-4711 generator test\","
                + "\"vmTimeoutSeconds\":30,\"powerOffHosts\":false}");
        assertThat(r.status()).as(r.text()).isEqualTo(202);
        Http.Response again = api.post("/api/v1/site/shutdown", "{\"reason\":\"twice\"}");
        assertThat(again.status()).as(again.text()).isEqualTo(409);
        assertThat(again.json().path("code").asText()).isEqualTo("site-shutdown-running");
        JsonNode cancel = api.post("/api/v1/site/resume", "{\"reason\":\"generator test called off\"}").json();
        assertThat(cancel.path("cancelled").asText()).isNotEmpty();
        // a second resume: while the cancel is being carried out it is refused; once the cancelled shutdown has
        // ended (it may have, on a fast run) it makes the hosts take VMs again, as after any shutdown
        Http.Response twice = api.post("/api/v1/site/resume", "{\"reason\":\"again\"}");
        if (twice.status() == 200) {
            assertThat(twice.json().path("failedHosts").size()).as(twice.text()).isZero();
        } else {
            assertThat(twice.status()).as(twice.text()).isEqualTo(409);
            assertThat(twice.json().path("code").asText()).isEqualTo("site-shutdown-cancelling");
        }
        // the manager dies right after the cancel: the cancel is stored, the restarted manager honours it
        lab.manager().kill();
        lab.startManager();
        Http fresh = lab.api();
        JsonNode s = Poll.until(Duration.ofSeconds(120), "the cancelled shutdown to end", () -> {
            JsonNode x = fresh.get("/api/v1/site").json().path("shutdown");
            return x.path("state").asText().equals("running") ? null : x;
        });
        assertThat(s.path("state").asText()).as(s.toString()).isEqualTo("cancelled");
        assertThat(s.path("detail").asText()).contains("cancelled by admin");
        assertThat(s.path("steps").toString()).doesNotContain("\"db\"");
        // misc (wave 1) was stopped at most; the hosts accept starts again and it comes back
        Poll.until(BOOT.multipliedBy(2), "misc to answer again", () -> {
            try {
                return lab.guest("misc").status() != null ? true : null;
            } catch (Exception e) {
                return null;
            }
        });
        for (String vm : List.of("db", "app", "misc")) {
            lab.awaitState(vm, "running", BOOT);
        }
        assertThat(fresh.get("/api/v1/site").json().path("hosts").toString()).doesNotContain("refusing-starts");
        assertThat(miscBoot).isNotBlank();
        for (String vm : List.of("db", "app", "misc")) {
            lab.act(vm, "poweroff");
        }
    }

    private long lastAuditSeq() {
        JsonNode last = lab.api().get("/api/v1/audit?limit=1").json();
        return last.size() == 0 ? 0 : last.get(0).path("seq").asLong();
    }

    /** "action targetName" of the audit records after {@code seq}, oldest first. */
    private List<String> actions(long seq) {
        List<String> out = new ArrayList<>();
        for (JsonNode r : lab.api().get("/api/v1/audit?limit=1000").json()) {
            if (r.path("seq").asLong() > seq) {
                out.add(0, r.path("action").asText() + " " + r.path("targetName").asText());
            }
        }
        return out;
    }
}
