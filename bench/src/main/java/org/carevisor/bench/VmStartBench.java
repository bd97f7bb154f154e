package org.carevisor.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.protocol.NicSpec;
import org.carevisor.protocol.PortForward;
import org.carevisor.protocol.VmSpec;
import org.carevisor.qemu.QemuCommandLine;
import org.carevisor.qemu.QemuHostConfig;
import org.carevisor.qemu.VmRuntimePaths;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.QemuProcesses;

/**
 * Benchmark: time from the API request that creates and starts a VM until the guest appliance's HTTP
 * service answers, sequentially and 4 at once, against bare QEMU booting the same image with the same
 * command line in the same run; then the idle resident memory of the manager and the agent.
 * Usage: VmStartBench [runs (default 10)] [work dir]
 */
public final class VmStartBench {
    private static final Duration BOOT_LIMIT = Duration.ofSeconds(120);

    private VmStartBench() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        Path work = args.length > 1 ? Path.of(args[1]) : Files.createTempDirectory("carevisor-bench");
        Path image = Lab.applianceImage();
        System.out.printf("VM start benchmark: %d VMs per series, appliance %s, %d CPUs%n", runs, image,
                Runtime.getRuntime().availableProcessors());
        List<Double> bare = bareQemu(work.resolve("bare"), image, runs);
        List<Double> sequential;
        List<Double> parallel;
        long managerRss;
        long agentRss;
        try (Lab lab = Lab.start(work.resolve("lab"), 22000, image)) {
            lab.api().get("/api/v1/images");
            sequential = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                sequential.add(createAndStart(lab, "seq-" + i));
                deleteAll(lab);
            }
            parallel = new ArrayList<>();
            for (int batch = 0; batch < Math.max(1, runs / 4); batch++) {
                ExecutorService pool = Executors.newFixedThreadPool(4);
                List<Future<Double>> f = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    String name = "par-" + batch + "-" + i;
                    f.add(pool.submit((Callable<Double>) () -> createAndStart(lab, name)));
                }
                for (Future<Double> x : f) {
                    parallel.add(x.get());
                }
                pool.shutdown();
                deleteAll(lab);
            }
            Thread.sleep(15_000);
            managerRss = rssKiB(lab.manager().pid());
            agentRss = rssKiB(lab.agent().pid());
        } finally {
            QemuProcesses.killAll(work.toString());
        }
        Stats b = new Stats(bare);
        Stats s = new Stats(sequential);
        Stats p = new Stats(parallel);
        System.out.println();
        System.out.println("| series | n | p50 ms | p95 ms | min ms | max ms | p50 ratio to bare QEMU |");
        System.out.println("|---|---|---|---|---|---|---|");
        row("bare QEMU, same argv, one at a time", b, b);
        row("Carevisor API create+start, one at a time", s, b);
        row("Carevisor API create+start, 4 at once", p, b);
        System.out.println();
        System.out.println("| idle process | RSS MiB |");
        System.out.println("|---|---|");
        System.out.printf("| manager | %.0f |%n", managerRss / 1024.0);
        System.out.printf("| agent | %.0f |%n", agentRss / 1024.0);
        System.out.printf("| manager + agent | %.0f |%n", (managerRss + agentRss) / 1024.0);
    }

    private static void row(String name, Stats x, Stats bare) {
        System.out.printf("| %s | %d | %.0f | %.0f | %.0f | %.0f | %.2f |%n", name, x.n(), x.p(50), x.p(95), x.min(),
                x.max(), x.p(50) / bare.p(50));
    }

    /** One create+start through the API, timed until the guest service answers. */
    private static double createAndStart(Lab lab, String name) {
        long t0 = System.nanoTime();
        Http.Response r = lab.api().post("/api/v1/vms", "{\"name\":\"" + name + "\",\"cpus\":1,\"memoryMiB\":256,"
                + "\"image\":\"carevisor-appliance\",\"start\":true}");
        if (r.status() != 202) {
            throw new IllegalStateException("create failed: " + r.text());
        }
        lab.awaitTask(r.json().path("id").asText());
        JsonNode vm = lab.vm(name);
        new GuestProbe("127.0.0.1", vm.path("guestPort").asInt()).awaitReady(BOOT_LIMIT);
        return (System.nanoTime() - t0) / 1e6;
    }

    private static void deleteAll(Lab lab) {
        for (JsonNode vm : lab.api().get("/api/v1/vms").json()) {
            Http.Response r = lab.api().delete("/api/v1/vms/" + vm.path("id").asText() + "?force=true");
            lab.awaitTask(r.json().path("id").asText());
        }
    }

    /** Bare QEMU: copy the image (as Carevisor does), start QEMU with the same argv, wait for the service. */
    private static List<Double> bareQemu(Path dir, Path image, int runs) throws Exception {
        List<Double> times = new ArrayList<>();
        Files.createDirectories(dir.resolve("storage"));
        for (int i = 0; i < runs; i++) {
            String id = UUID.randomUUID().toString();
            Path vmDir = dir.resolve("r" + i);
            Files.createDirectories(vmDir);
            int port = 22900 + i;
            VmSpec spec = new VmSpec(id, "bare-" + i, 1, 256, "pc", "qemu64",
                    List.of(new DiskSpec("disk0", "d" + i + ".qcow2", "qcow2", false)),
                    List.of(new NicSpec("nic0", String.format("52:54:00:be:00:%02x", i), "user",
                            List.of(new PortForward("tcp", null, port, 80)))), 1);
            // the disk is made below, after the argv; bare QEMU runs at once (no -S, no agent to continue it)
            Path disk = dir.resolve("storage/d" + i + ".qcow2");
            List<String> argv = new ArrayList<>(QemuCommandLine.build(spec, new QemuHostConfig("qemu-system-x86_64",
                    "tcg", dir.resolve("storage"), "127.0.0.1", true), new VmRuntimePaths(vmDir), false,
                    d -> org.carevisor.qemu.ImageChain.single(disk, "qcow2")));
            argv.remove("-S");
            long t0 = System.nanoTime();
            run(List.of("qemu-img", "convert", "-q", "-O", "qcow2", image.toString(),
                    dir.resolve("storage/d" + i + ".qcow2").toString()));
            Process q = new ProcessBuilder(argv).redirectErrorStream(true)
                    .redirectOutput(vmDir.resolve("qemu.log").toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            try {
                new GuestProbe("127.0.0.1", port).awaitReady(BOOT_LIMIT);
                times.add((System.nanoTime() - t0) / 1e6);
            } finally {
                q.destroyForcibly();
                q.waitFor();
            }
        }
        Collections.sort(times);
        return times;
    }

    private static void run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed");
        }
    }

    private static long rssKiB(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        return -1;
    }
}
