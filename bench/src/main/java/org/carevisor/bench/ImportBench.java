package org.carevisor.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.carevisor.testkit.Lab;

/**
 * Import benchmark: Carevisor's import of one export file (POST /vm-imports until the task is done: the
 * manifest read and checked, the tar read once with every member checked, each disk written and hashed,
 * qemu-img info under prlimit, the VM recorded) against bare {@code tar -xf} followed by {@code sha256sum}
 * of the unpacked disks, on the same file in the same run (alternating, so both see the same page cache).
 * The exported VM has the appliance disk and a raw data disk of the given size filled with random bytes.
 * Usage: ImportBench [runs (default 5)] [data disk MiB (default 1024)]
 */
public final class ImportBench {
    private ImportBench() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int mib = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
        Path work = Files.createTempDirectory("carevisor-import-bench");
        System.out.printf("Import benchmark: %d runs, export of the appliance disk + a %d MiB raw disk, %d CPUs%n",
                runs, mib, Runtime.getRuntime().availableProcessors());
        List<Double> carevisor = new ArrayList<>();
        List<Double> bare = new ArrayList<>();
        long fileBytes;
        try (Lab lab = Lab.start(work.resolve("lab"), 25600, Lab.applianceImage())) {
            Path storage = lab.dir().resolve("storage");
            JsonNode vm = lab.createVm("{\"name\":\"bench-src\",\"cpus\":1,\"memoryMiB\":64,\"image\":"
                    + "\"carevisor-appliance\",\"disks\":[{\"sizeMiB\":" + mib + ",\"format\":\"raw\"}]}");
            Path data = storage.resolve(vm.path("disks").get(1).path("path").asText());
            run("dd", "if=/dev/urandom", "of=" + data, "bs=1M", "count=" + mib, "conv=notrunc", "status=none");
            JsonNode exported = lab.run("/api/v1/vms/bench-src/export", null);
            String file = exported.path("message").asText().replaceAll(".* exported to (\\S+) .*", "$1");
            Path export = storage.resolve(file);
            fileBytes = Files.size(export);
            System.out.printf("export file %s: %d MiB%n", file, fileBytes >> 20);
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                JsonNode task = lab.run("/api/v1/vm-imports", "{\"file\":\"" + file + "\",\"identity\":\"new\","
                        + "\"name\":\"bench-imp-" + i + "\"}");
                double ms = (System.nanoTime() - t0) / 1e6;
                if (!task.path("state").asText().equals("succeeded")) {
                    throw new IllegalStateException("import failed: " + task);
                }
                carevisor.add(ms);
                lab.awaitTask(lab.api().delete("/api/v1/vms/bench-imp-" + i).expect(202).json().path("id").asText());

                Path dir = storage.resolve("vms/.bench-bare-" + i);
                Files.createDirectories(dir);
                long t1 = System.nanoTime();
                run("tar", "-xf", export.toString(), "-C", dir.toString());
                List<String> sums = new ArrayList<>(List.of("sha256sum"));
                try (var disks = Files.list(dir.resolve("disks"))) {
                    disks.forEach(p -> sums.add(p.toString()));
                }
                run(sums.toArray(String[]::new));
                bare.add((System.nanoTime() - t1) / 1e6);
                run("rm", "-rf", dir.toString());
                System.out.printf("  run %d: carevisor %.0f ms, tar -xf + sha256sum %.0f ms%n", i + 1, ms, bare.get(i));
            }
        } finally {
            run("rm", "-rf", work.toString());
        }
        Stats c = new Stats(carevisor);
        Stats b = new Stats(bare);
        System.out.println();
        System.out.println("| series | n | p50 ms | p95 ms | min ms | max ms | MiB/s at p50 | p50 ratio to bare |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        row("bare tar -xf + sha256sum", b, fileBytes, b.p(50));
        row("Carevisor import (API until the task is done)", c, fileBytes, b.p(50));
    }

    private static void row(String name, Stats s, long bytes, double bareP50) {
        System.out.printf("| %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f |%n", name, s.n(), s.p(50), s.p(95),
                s.min(), s.max(), (bytes / 1048576.0) / (s.p(50) / 1000), s.p(50) / bareP50);
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed");
        }
    }
}
