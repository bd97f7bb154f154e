package org.carevisor.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.LabNetwork;
import org.carevisor.testkit.NutServer;
import org.carevisor.testkit.Poll;
import org.carevisor.testkit.QemuProcesses;

/**
 * Site benchmark in a three-host lab with 12 guests (4 HA with priorities and a dependency) and a real UPS
 * server (upsd with dummy-ups). Each run: the UPS reports battery low; measured until the site shutdown has
 * stopped every guest in order and switched every host off (lab agents end). Then a cold start in mixed order:
 * lab-h3 first, the manager restarted 10 s later, lab-h1 after another 10 s, lab-h2 after another 20 s; measured
 * from the last host's start until every guest answers again, and the hosts fenced (goal 0) and guests lost
 * (goal 0). Lab fencing is configured on every host, so a wrong suspicion would show as a fence.
 * Needs root. Usage: SiteBench [runs (default 2)]
 */
public final class SiteBench {
    private static final Duration LIMIT = Duration.ofSeconds(600);
    private static final List<String> HA = List.of("ehr-db", "ehr-app", "lis", "pacs");

    record Run(double shutdown, int waves, double firstAnswer, double allAnswer, int fenced, int lost,
               int maxQemusPerVm) {
    }

    private SiteBench() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        if (!LabNetwork.available()) {
            throw new IllegalStateException("the site benchmark needs root (network namespaces)");
        }
        Path work = Files.createTempDirectory("carevisor-site-bench");
        List<Run> results = new ArrayList<>();
        try (NutServer nut = NutServer.start(work.resolve("nut"), "serverroom");
             Lab lab = Lab.cluster(work.resolve("lab"), 23400, 3, List.of("--ups", nut.target(),
                     "--ups-vm-timeout-seconds", "60"), Lab.applianceImage())) {
            System.out.printf("Site benchmark: %d run(s), 12 guests of 128 MiB (4 HA) on 3 lab hosts, %d CPUs%n",
                    runs, Runtime.getRuntime().availableProcessors());
            for (int i = 1; i <= 3; i++) {
                lab.api().patch("/api/v1/hosts/lab-h" + i + "/fence", "{\"kind\":\"lab\",\"target\":\""
                        + lab.network().namespace(i) + "\"}").expect(200);
            }
            List<String> names = new ArrayList<>(HA);
            for (int i = 1; i <= 8; i++) {
                names.add("dept-" + i);
            }
            for (int i = 0; i < names.size(); i++) {
                lab.createVm("{\"name\":\"" + names.get(i) + "\",\"cpus\":1,\"memoryMiB\":128,\"image\":"
                        + "\"carevisor-appliance\",\"nics\":[{\"network\":\"lab\"}],\"start\":true,\"host\":\"lab-h"
                        + (i % 3 + 1) + "\"}");
            }
            ha(lab, "ehr-db", "{\"enabled\":true,\"priority\":100}");
            ha(lab, "ehr-app", "{\"enabled\":true,\"priority\":90,\"dependsOn\":[\"ehr-db\"]}");
            ha(lab, "lis", "{\"enabled\":true,\"priority\":50}");
            ha(lab, "pacs", "{\"enabled\":true,\"priority\":50}");
            for (int r = 0; r < runs; r++) {
                results.add(run(lab, nut, names, work));
            }
        }
        System.out.println();
        System.out.println("| run | site shutdown s (battery low to all hosts off) | waves | first guest answers s | all 12 answer s | hosts fenced | guests lost | max QEMUs per VM |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (int i = 0; i < results.size(); i++) {
            Run x = results.get(i);
            System.out.printf("| %d | %.1f | %d | %.1f | %.1f | %d | %d | %d |%n", i + 1, x.shutdown(), x.waves(),
                    x.firstAnswer(), x.allAnswer(), x.fenced(), x.lost(), x.maxQemusPerVm());
        }
        Stats sd = new Stats(results.stream().map(Run::shutdown).toList());
        Stats all = new Stats(results.stream().map(Run::allAnswer).toList());
        System.out.printf("%nsite shutdown p50 %.1f s, max %.1f s; cold start: all guests answer p50 %.1f s, max %.1f s"
                + " after the last host started (goal 60 s); hosts fenced %d, guests lost %d (goals 0)%n",
                sd.p(50), sd.max(), all.p(50), all.max(), results.stream().mapToInt(Run::fenced).sum(),
                results.stream().mapToInt(Run::lost).sum());
    }

    private static Run run(Lab lab, NutServer nut, List<String> names, Path work) throws Exception {
        Map<String, String> boots = new LinkedHashMap<>();
        Map<String, String> ids = new LinkedHashMap<>();
        for (String vm : names) {
            boots.put(vm, lab.guest(vm).awaitReady(LIMIT).bootId());
            ids.put(vm, lab.vm(vm).path("id").asText());
        }
        long seq = lastSeq(lab);
        Instant low = Instant.now();
        nut.status("OB LB", 9, 120);
        JsonNode done = Poll.until(LIMIT, Duration.ofMillis(200), "the site shutdown to end", () -> {
            JsonNode s = lab.api().get("/api/v1/site").json().path("shutdown");
            return s.path("startedAt").asText("").compareTo(low.toString()) > 0
                    && !s.path("state").asText().equals("running") ? s : null;
        });
        Poll.until(Duration.ofSeconds(30), "the lab agents to end", () -> lab.hosts().stream()
                .noneMatch(h -> h.process().alive()) ? true : null);
        double shutdown = Duration.between(low, Instant.now()).toMillis() / 1000.0;
        if (!done.path("state").asText().equals("succeeded")) {
            throw new IllegalStateException("site shutdown " + done);
        }
        int waves = 0;
        for (JsonNode st : done.path("steps")) {
            waves = Math.max(waves, st.path("wave").asInt());
        }
        System.out.printf("site shutdown %.1f s, %d waves: %s%n", shutdown, waves, done.path("detail").asText());

        // power back; cold start in mixed order, the manager restarted in the middle
        nut.status("OL", 30, 1800);
        lab.manager().close();
        lab.startAgent(2);
        Thread.sleep(10_000);
        lab.startManager();
        Thread.sleep(10_000);
        lab.startAgent(0);
        Thread.sleep(20_000);
        lab.startAgent(1);
        Instant last = Instant.now();
        double first = Double.NaN;
        Map<String, Double> answered = new LinkedHashMap<>();
        int maxQemus = 0;
        while (answered.size() < names.size()) {
            if (Duration.between(last, Instant.now()).compareTo(LIMIT) > 0) {
                throw new IllegalStateException("not every guest answered within " + LIMIT.toSeconds() + " s: "
                        + answered.keySet());
            }
            for (String vm : names) {
                if (answered.containsKey(vm)) {
                    continue;
                }
                try {
                    GuestProbe.Status s = lab.guest(vm).status();
                    if (!s.bootId().equals(boots.get(vm))) {
                        double t = Duration.between(last, Instant.now()).toMillis() / 1000.0;
                        answered.put(vm, t);
                        first = Double.isNaN(first) ? t : first;
                    }
                } catch (Exception e) {
                    // not yet
                }
            }
            for (String vm : names) {
                maxQemus = Math.max(maxQemus, QemuProcesses.qemus(ids.get(vm)).size());
            }
            Thread.sleep(250);
        }
        double all = answered.values().stream().mapToDouble(Double::doubleValue).max().orElseThrow();
        int fenced = 0;
        for (JsonNode a : lab.api().get("/api/v1/audit?limit=2000").json()) {
            if (a.path("seq").asLong() > seq && a.path("action").asText().equals("host.fence")) {
                fenced++;
            }
        }
        System.out.printf("cold start: first guest %.1f s, all %.1f s after the last host started; order %s%n", first,
                all, answered.keySet());
        return new Run(shutdown, waves, first, all, fenced, names.size() - answered.size(), maxQemus);
    }

    private static void ha(Lab lab, String vm, String body) {
        lab.api().patch("/api/v1/vms/" + vm + "/ha", body).expect(200);
    }

    private static long lastSeq(Lab lab) {
        JsonNode last = lab.api().get("/api/v1/audit?limit=1").json();
        return last.size() == 0 ? 0 : last.get(0).path("seq").asLong();
    }
}
