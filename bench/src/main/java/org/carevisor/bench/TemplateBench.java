package org.carevisor.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
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
 * Benchmarks of VMs as files, each against the bare tool in the same run:
 * <ol>
 *   <li>linked clone deployed from a qualified template (checksum verified) until the guest answers, vs
 *       {@code qemu-img create -b} plus the same QEMU command line;</li>
 *   <li>full clone of a 2 GiB image (random data, fully allocated) vs {@code qemu-img convert} and {@code cp};</li>
 *   <li>how long a 512 MiB guest is paused by a snapshot with memory.</li>
 * </ol>
 * Usage: TemplateBench [runs (default 10)]
 */
public final class TemplateBench {
    private static final Duration BOOT = Duration.ofSeconds(120);

    private TemplateBench() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        Path work = Files.createTempDirectory("carevisor-template-bench");
        Path appliance = Lab.applianceImage();
        Path big = work.resolve("big-2g.qcow2");
        System.out.printf("Template/snapshot benchmark: %d runs, %d CPUs%n", runs, Runtime.getRuntime().availableProcessors());
        makeRandomImage(big, 2L << 30, work);
        List<Double> bareLinked = bareLinkedBoots(work.resolve("bare"), appliance, runs);
        List<Double> linked = new ArrayList<>();
        List<Double> convert = new ArrayList<>();
        List<Double> copy = new ArrayList<>();
        List<Double> full = new ArrayList<>();
        List<Double> pauses = new ArrayList<>();
        List<Double> snapshotTotal = new ArrayList<>();
        try (Lab lab = Lab.start(work.resolve("lab"), 22200, appliance, big)) {
            // 1. a qualified appliance template, deployed as linked clones one after another
            lab.createVm("{\"name\":\"master\",\"cpus\":1,\"memoryMiB\":256,\"image\":\"carevisor-appliance\"}");
            check(lab.run("/api/v1/templates", "{\"vm\":\"master\"}"));
            check(lab.run("/api/v1/templates/master/qualify", "{" + Lab.signature("approved") + "}"));
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                check(lab.run("/api/v1/templates/master/deploy", "{\"name\":\"lc-" + i + "\",\"start\":true}"));
                new GuestProbe("127.0.0.1", lab.vm("lc-" + i).path("guestPort").asInt()).awaitReady(BOOT);
                linked.add(ms(t0));
                deleteVm(lab, "lc-" + i);
            }
            // 2. full clone of the 2 GiB image: a draft template made from a VM on it, deployed with mode full
            lab.createVm("{\"name\":\"big-src\",\"cpus\":1,\"memoryMiB\":64,\"image\":\"big-2g\",\"nics\":[]}");
            check(lab.run("/api/v1/templates", "{\"vm\":\"big-src\",\"name\":\"big\"}"));
            Path base = lab.dir().resolve("storage").resolve(lab.api().get("/api/v1/templates/big").json()
                    .path("disks").get(0).path("path").asText());
            readAll(base);
            // Each copy starts with no dirty pages left by the previous one (sync outside the timing).
            for (int i = 0; i < Math.max(5, runs / 2); i++) {
                Path c = work.resolve("convert-" + i + ".qcow2");
                run(List.of("sync"));
                long t0 = System.nanoTime();
                run(List.of("qemu-img", "convert", "-O", "qcow2", base.toString(), c.toString()));
                convert.add(ms(t0));
                Files.delete(c);
                Path p = work.resolve("cp-" + i + ".qcow2");
                run(List.of("sync"));
                t0 = System.nanoTime();
                run(List.of("cp", base.toString(), p.toString()));
                copy.add(ms(t0));
                Files.delete(p);
                run(List.of("sync"));
                t0 = System.nanoTime();
                check(lab.run("/api/v1/templates/big/deploy", "{\"name\":\"full-" + i + "\",\"mode\":\"full\"}"));
                full.add(ms(t0));
                deleteVm(lab, "full-" + i);
            }
            // 3. snapshots with memory of a running 512 MiB guest
            lab.createVm("{\"name\":\"snap\",\"cpus\":1,\"memoryMiB\":512,\"image\":\"carevisor-appliance\",\"start\":true}");
            new GuestProbe("127.0.0.1", lab.vm("snap").path("guestPort").asInt()).awaitReady(BOOT);
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                check(lab.run("/api/v1/vms/snap/snapshots", "{\"name\":\"s" + i + "\",\"memory\":true}"));
                snapshotTotal.add(ms(t0));
                pauses.add(lab.api().get("/api/v1/vms/snap/snapshots/s" + i).json().path("pausedMs").asDouble());
            }
        } finally {
            QemuProcesses.killAll(work.toString());
        }
        double gib = 2.0;
        Stats bl = new Stats(bareLinked);
        Stats l = new Stats(linked);
        Stats cv = new Stats(convert);
        Stats cp = new Stats(copy);
        Stats f = new Stats(full);
        System.out.println();
        System.out.println("| series | n | p50 ms | p95 ms | min ms | max ms | ratio (p50) |");
        System.out.println("|---|---|---|---|---|---|---|");
        row("bare: qemu-img create -b + QEMU boot to guest answer", bl, bl.p(50));
        row("Carevisor: deploy linked clone of qualified template + start, to guest answer", l, bl.p(50));
        row("bare: qemu-img convert -O qcow2, 2 GiB", cv, cv.p(50));
        row("bare: cp, 2 GiB", cp, cv.p(50));
        row("Carevisor: deploy full clone of 2 GiB template (API to task done)", f, cv.p(50));
        System.out.println();
        System.out.printf("Full clone throughput: Carevisor %.0f MiB/s, qemu-img convert %.0f MiB/s, cp %.0f MiB/s; "
                        + "Carevisor speed / qemu-img convert speed = %.2f%n", gib * 1024 * 1000 / f.p(50),
                gib * 1024 * 1000 / cv.p(50), gib * 1024 * 1000 / cp.p(50), cv.p(50) / f.p(50));
        Stats pz = new Stats(pauses);
        Stats st = new Stats(snapshotTotal);
        System.out.println();
        System.out.println("| snapshot with memory, 512 MiB guest | n | p50 ms | p95 ms | min ms | max ms |");
        System.out.println("|---|---|---|---|---|---|");
        System.out.printf("| guest paused (QEMU STOP to RESUME) | %d | %.0f | %.0f | %.0f | %.0f |%n", pz.n(), pz.p(50),
                pz.p(95), pz.min(), pz.max());
        System.out.printf("| whole API operation (202 to task done) | %d | %.0f | %.0f | %.0f | %.0f |%n", st.n(), st.p(50),
                st.p(95), st.min(), st.max());
    }

    private static void row(String name, Stats x, double base) {
        System.out.printf("| %s | %d | %.0f | %.0f | %.0f | %.0f | %.2f |%n", name, x.n(), x.p(50), x.p(95), x.min(),
                x.max(), x.p(50) / base);
    }

    private static void check(JsonNode task) {
        if (!task.path("state").asText().equals("succeeded")) {
            throw new IllegalStateException("task failed: " + task);
        }
    }

    private static void deleteVm(Lab lab, String name) {
        Http.Response r = lab.api().delete("/api/v1/vms/" + name + "?force=true");
        lab.awaitTask(r.json().path("id").asText());
    }

    /** Boots the appliance from a fresh overlay with the agent's command line, until the guest answers. */
    private static List<Double> bareLinkedBoots(Path dir, Path base, int runs) throws Exception {
        List<Double> times = new ArrayList<>();
        Files.createDirectories(dir.resolve("storage"));
        for (int i = 0; i < runs; i++) {
            Path vmDir = dir.resolve("r" + i);
            Files.createDirectories(vmDir);
            int port = 22950 + i;
            VmSpec spec = new VmSpec(UUID.randomUUID().toString(), "bare-" + i, 1, 256, "pc", "qemu64",
                    List.of(new DiskSpec("disk0", "o" + i + ".qcow2", "qcow2", false)),
                    List.of(new NicSpec("nic0", String.format("52:54:00:bf:00:%02x", i), "user",
                            List.of(new PortForward("tcp", null, port, 80)))), 1);
            // the overlay is made below, after the argv; bare QEMU runs at once (no -S, no agent to continue it)
            Path overlay = dir.resolve("storage/o" + i + ".qcow2");
            org.carevisor.qemu.ImageChain chain = new org.carevisor.qemu.ImageChain(List.of(
                    new org.carevisor.qemu.ImageChain.Link(overlay, "qcow2", null),
                    new org.carevisor.qemu.ImageChain.Link(base, "qcow2", null)));
            List<String> argv = new ArrayList<>(QemuCommandLine.build(spec, new QemuHostConfig("qemu-system-x86_64",
                    "tcg", dir.resolve("storage"), "127.0.0.1", true), new VmRuntimePaths(vmDir), false, d -> chain));
            argv.remove("-S");
            long t0 = System.nanoTime();
            run(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "qcow2",
                    dir.resolve("storage/o" + i + ".qcow2").toString()));
            Process q = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(vmDir.resolve("qemu.log").toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            try {
                new GuestProbe("127.0.0.1", port).awaitReady(BOOT);
                times.add(ms(t0));
            } finally {
                q.destroyForcibly();
                q.waitFor();
            }
        }
        return times;
    }

    /** A fully allocated qcow2 of random data (incompressible, no zero clusters). */
    private static void makeRandomImage(Path target, long size, Path work) throws Exception {
        Path raw = work.resolve("random.raw");
        Random random = new Random(42);
        byte[] block = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(raw)) {
            for (long written = 0; written < size; written += block.length) {
                random.nextBytes(block);
                out.write(block);
            }
        }
        run(List.of("qemu-img", "convert", "-O", "qcow2", raw.toString(), target.toString()));
        Files.delete(raw);
    }

    private static void readAll(Path file) throws IOException {
        try (var in = Files.newInputStream(file)) {
            in.transferTo(OutputStream.nullOutputStream());
        }
    }

    private static double ms(long t0) {
        return (System.nanoTime() - t0) / 1e6;
    }

    private static void run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed");
        }
    }
}
