package org.carevisor.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.LabNetwork;
import org.carevisor.testkit.LimitedStorage;
import org.carevisor.testkit.chaos.Campaign;
import org.carevisor.testkit.chaos.ChaosLab;
import org.carevisor.testkit.chaos.Faults;
import org.carevisor.testkit.chaos.Invariants;

/**
 * Fault campaign benchmark: a three-host lab with 6 guests (3 HA), faults from the whole menu for the given
 * minutes, invariants checked throughout. Prints the seed (a failing run replays with it), faults by kind with the
 * time to converge after the heal (p50/p95/max), the invariant violations (goal 0) and the guests lost (goal 0).
 * Needs root. Usage: ChaosBench [minutes (default 60)] [seed (default: time)] [fault kinds, comma-separated]
 */
public final class ChaosBench {
    private ChaosBench() {
    }

    public static void main(String[] args) throws Exception {
        int minutes = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        long seed = args.length > 1 && !args[1].isBlank() ? Long.parseLong(args[1]) : System.currentTimeMillis();
        List<String> kinds = args.length > 2 && !args[2].isBlank() ? List.of(args[2].split(",")) : List.of();
        if (!LabNetwork.available()) {
            throw new IllegalStateException("the chaos benchmark needs root (network namespaces)");
        }
        Path work = Files.createTempDirectory("carevisor-chaos-bench");
        Campaign.Report r;
        // a real size-limited file system for the storage, seen through a FUSE layer: the storage-full fault fills it,
        // the storage-unreachable fault freezes the layer
        try (LimitedStorage storage = LimitedStorage.mountFreezable(work.resolve("lab/storage"), 4096);
             Lab lab = Lab.cluster(work.resolve("lab"), 23600, 3,
                     // the product's default: the campaign found guests crashing when migrated while they boot
                     List.of("--migration-boot-settle-seconds", "30"), Lab.applianceImage())) {
            // stopped early (Ctrl-C, kill): the lab's processes end with the benchmark, then its storage
            Thread hook = new Thread(() -> {
                lab.close();
                try {
                    storage.close();
                } catch (java.io.IOException e) {
                    System.err.println("cannot unmount the lab storage: " + e.getMessage());
                }
            }, "chaos-cleanup");
            Runtime.getRuntime().addShutdownHook(hook);
            System.out.printf("Chaos benchmark: %d min, seed %d, 6 guests of 128 MiB (3 HA) on 3 lab hosts, %d CPUs%n",
                    minutes, seed, Runtime.getRuntime().availableProcessors());
            ChaosLab chaos = ChaosLab.prepare(lab, 3, 3).withStorage(storage);
            r = new Campaign(chaos, Faults.select(kinds), Invariants.all(), new Campaign.Config(seed,
                    Duration.ofMinutes(minutes), 0, Duration.ofSeconds(240), List.of("vm-2", "vm-3")),
                    line -> System.out.println(java.time.LocalTime.now().withNano(0) + " " + line)).run();
            Runtime.getRuntime().removeShutdownHook(hook); // closed below, once
        }
        Map<String, List<Double>> byKind = new LinkedHashMap<>();
        Map<String, Integer> notConverged = new LinkedHashMap<>();
        for (Campaign.Round x : r.rounds()) {
            byKind.computeIfAbsent(x.kind(), k -> new ArrayList<>());
            if (Double.isNaN(x.convergeSeconds())) {
                notConverged.merge(x.kind(), 1, Integer::sum);
            } else {
                byKind.get(x.kind()).add(x.convergeSeconds());
            }
        }
        System.out.println();
        System.out.println("| fault | injected | converged s p50 | p95 | max | not converged |");
        System.out.println("|---|---|---|---|---|---|");
        for (var e : byKind.entrySet()) {
            Stats s = new Stats(e.getValue());
            int nc = notConverged.getOrDefault(e.getKey(), 0);
            System.out.printf("| %s | %d | %.1f | %.1f | %.1f | %d |%n", e.getKey(), s.n() + nc, s.p(50), s.p(95),
                    s.n() == 0 ? Double.NaN : s.max(), nc);
        }
        System.out.printf("%nseed %d: %d fault(s), %d invariant violation(s), %d guest(s) lost; operator actions %s%n",
                r.seed(), r.rounds().size(), r.violations().size(), r.lost().size(), r.actions());
        r.violations().forEach(v -> System.out.println("  violation: " + v));
        r.lost().forEach(v -> System.out.println("  lost: " + v));
        System.exit(r.ok() ? 0 : 1);
    }
}
