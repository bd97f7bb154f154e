package org.carevisor.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.carevisor.manager.ha.fence.LabFenceAgent;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.LabNetwork;
import org.carevisor.testkit.Poll;
import org.carevisor.testkit.QemuProcesses;

/**
 * HA benchmark in a three-host lab: a host running 4 HA guests loses power (every process of its network
 * namespace is killed at once: agent, watchdog, QEMUs); measured from that moment until each guest's web
 * service answers again on another host, split into detection (until the manager decides to fence, or declares
 * the host dead without a fence agent), fencing (until the fence agent confirmed the host off) and restart
 * (until the last guest answers). Also checked on every poll: no guest has two QEMU processes. Two cases: with
 * the lab fence agent, and without one (the host is dead when its storage lease has certainly expired).
 * Needs root. Usage: HaBench [runs per case (default 5)]
 */
public final class HaBench {
    private static final Duration BOOT = Duration.ofSeconds(180);
    private static final int GUESTS = 4;

    /** One power loss: seconds from the power loss to each milestone. */
    record Run(String host, double detected, double fenced, double dead, double firstAnswer, double allAnswer,
               int maxQemusPerVm) {
    }

    private HaBench() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        if (!LabNetwork.available()) {
            throw new IllegalStateException("the HA benchmark needs root (network namespaces)");
        }
        Path work = Files.createTempDirectory("carevisor-ha-bench");
        System.out.printf("HA benchmark: %d power losses per case, %d HA guests of 256 MiB on the failing host, %d CPUs%n",
                runs, GUESTS, Runtime.getRuntime().availableProcessors());
        Map<String, List<Run>> results = new LinkedHashMap<>();
        try (Lab lab = Lab.cluster(work.resolve("lab"), 22800, 3, Lab.applianceImage())) {
            int n = 0;
            for (String mode : List.of("lab", "none")) {
                List<Run> list = new ArrayList<>();
                for (int r = 0; r < runs; r++) {
                    list.add(powerLoss(lab, n++ % 3, mode, "r" + n));
                }
                results.put(mode, list);
            }
        }
        System.out.println();
        System.out.println("| fence agent | run | host | detection s | fenced s | host dead s | first guest answers s | all 4 answer s | max QEMUs per VM |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        results.forEach((mode, list) -> {
            for (int i = 0; i < list.size(); i++) {
                Run x = list.get(i);
                System.out.printf("| %s | %d | %s | %.1f | %s | %.1f | %.1f | %.1f | %d |%n", mode, i + 1, x.host(),
                        x.detected(), Double.isNaN(x.fenced()) ? "-" : String.format("%.1f", x.fenced()), x.dead(),
                        x.firstAnswer(), x.allAnswer(), x.maxQemusPerVm());
            }
        });
        System.out.println();
        System.out.println("| fence agent | detection p50 / p95 s | fencing p50 / p95 s | restart p50 / p95 s | total p50 / p95 s |");
        System.out.println("|---|---|---|---|---|");
        results.forEach((mode, list) -> {
            List<Double> detection = list.stream().map(Run::detected).toList();
            List<Double> fencing = list.stream().filter(x -> !Double.isNaN(x.fenced()))
                    .map(x -> x.fenced() - x.detected()).toList();
            List<Double> restart = list.stream().map(x -> x.allAnswer() - x.dead()).toList();
            List<Double> total = list.stream().map(Run::allAnswer).toList();
            System.out.printf("| %s | %s | %s | %s | %s |%n", mode, pair(detection),
                    fencing.isEmpty() ? "-" : pair(fencing), pair(restart), pair(total));
        });
    }

    private static String pair(List<Double> v) {
        Stats s = new Stats(v);
        return String.format("%.1f / %.1f", s.p(50), s.p(95));
    }

    private static Run powerLoss(Lab lab, int hostIndex, String fence, String tag) throws Exception {
        String host = lab.host(hostIndex).name();
        for (int i = 0; i < 3; i++) {
            String body = i == hostIndex && fence.equals("lab")
                    ? "{\"kind\":\"lab\",\"target\":\"" + lab.network().namespace(i + 1) + "\"}" : "{\"kind\":\"none\"}";
            lab.api().patch("/api/v1/hosts/" + lab.host(i).name() + "/fence", body).expect(200);
        }
        List<String> names = new ArrayList<>();
        for (int g = 0; g < GUESTS; g++) {
            String name = "ha-" + tag + "-" + g;
            names.add(name);
            lab.createVm("{\"name\":\"" + name + "\",\"cpus\":1,\"memoryMiB\":256,\"image\":\"carevisor-appliance\","
                    + "\"nics\":[{\"network\":\"lab\"}],\"host\":\"" + host + "\",\"start\":true}");
            lab.api().patch("/api/v1/vms/" + name + "/ha", "{\"enabled\":true,\"priority\":" + (100 - 20 * g) + "}")
                    .expect(200);
        }
        Map<String, String> boots = new HashMap<>();
        Map<String, String> ids = new HashMap<>();
        for (String name : names) {
            boots.put(name, lab.guest(name).awaitReady(BOOT).bootId());
            ids.put(name, lab.vm(name).path("id").asText());
        }
        Path pids = lab.host(hostIndex).stateDir().resolve("ha/pids");
        Poll.until(Duration.ofSeconds(30), "the watchdog to guard the guests", () -> {
            try {
                String text = Files.exists(pids) ? Files.readString(pids) : "";
                return ids.values().stream().allMatch(text::contains) ? true : null;
            } catch (java.io.IOException e) {
                return null;
            }
        });
        long seq = lab.api().get("/api/v1/audit?limit=1").json().get(0).path("seq").asLong();

        Instant t0 = Instant.now();
        LabFenceAgent.Result off = new LabFenceAgent(lab.network().namespace(hostIndex + 1)).powerOff(Duration.ofSeconds(10));
        if (!off.off()) {
            throw new IllegalStateException("power loss failed: " + off.detail());
        }
        Map<String, Double> answered = new HashMap<>();
        int maxQemus = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        while (answered.size() < names.size()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("guests did not come back within 180 s: " + answered);
            }
            for (String name : names) {
                maxQemus = Math.max(maxQemus, QemuProcesses.qemus(ids.get(name)).size());
                if (answered.containsKey(name)) {
                    continue;
                }
                try {
                    JsonNode vm = lab.vm(name);
                    String ip = vm.path("nics").get(0).path("ip").asText();
                    GuestProbe.Status s = new GuestProbe(ip, 80).status();
                    if (!s.bootId().equals(boots.get(name))) {
                        answered.put(name, secondsSince(t0, Instant.now()));
                    }
                } catch (Exception e) {
                    // not yet
                }
            }
            Thread.sleep(100);
        }
        Map<String, Instant> first = new HashMap<>();
        for (JsonNode r : lab.api().get("/api/v1/audit?limit=1000").json()) {
            if (r.path("seq").asLong() <= seq || !host.equals(r.path("targetName").asText())) {
                continue;
            }
            String key = r.path("action").asText() + ("host.fence".equals(r.path("action").asText())
                    ? ":" + r.path("outcome").asText().toLowerCase(java.util.Locale.ROOT) : "");
            Instant at = Instant.parse(r.path("at").asText());
            first.merge(key, at, (a, b) -> a.isBefore(b) ? a : b);
        }
        // per guest: when HA decided its restart, when the agent had started its QEMU (the ha-restart task's audit
        // record), when it answered; in seconds after the power loss
        Map<String, Instant> decided = new HashMap<>();
        Map<String, Instant> started = new HashMap<>();
        for (JsonNode r : lab.api().get("/api/v1/audit?limit=1000").json()) {
            String vm = r.path("targetName").asText();
            if (r.path("seq").asLong() <= seq || !names.contains(vm)) {
                continue;
            }
            Instant at = Instant.parse(r.path("at").asText());
            Map<String, Instant> into = switch (r.path("action").asText()) {
                case "ha.restart" -> decided;
                case "vm.ha-restart" -> "SUCCESS".equalsIgnoreCase(r.path("outcome").asText()) ? started : null;
                default -> null;
            };
            if (into != null) {
                into.merge(vm, at, (a, b) -> a.isBefore(b) ? a : b);
            }
        }
        for (String name : names) {
            System.out.printf("    %s: restart decided %.1f s, QEMU started %.1f s, answers %.1f s%n", name,
                    secondsSince(t0, decided.get(name)), secondsSince(t0, started.get(name)), answered.get(name));
        }
        double dead = secondsSince(t0, first.get("ha.dead"));
        double detected = fence.equals("lab") ? secondsSince(t0, first.get("ha.fence")) : dead;
        double fenced = first.containsKey("host.fence:success") ? secondsSince(t0, first.get("host.fence:success"))
                : Double.NaN;
        Run run = new Run(host, detected, fenced, dead, answered.values().stream().min(Double::compare).orElseThrow(),
                answered.values().stream().max(Double::compare).orElseThrow(), maxQemus);
        System.out.printf("  power loss of %s (fence %s): %s%n", host, fence, run);

        // clean up: guests off and deleted, the host's agent back
        for (String name : names) {
            lab.api().patch("/api/v1/vms/" + name + "/ha", "{\"enabled\":false}").expect(200);
            lab.act(name, "poweroff");
            lab.api().delete("/api/v1/vms/" + name);
        }
        lab.startAgent(hostIndex);
        lab.awaitHostConnected();
        Poll.until(Duration.ofSeconds(60), host + " to be up for HA again", () -> {
            for (JsonNode h : lab.api().get("/api/v1/ha").json().path("hosts")) {
                if (h.path("name").asText().equals(host) && h.path("health").asText().equals("up")) {
                    return true;
                }
            }
            return null;
        });
        return run;
    }

    private static double secondsSince(Instant t0, Instant t) {
        return t == null ? Double.NaN : Duration.between(t0, t).toMillis() / 1000.0;
    }
}
