package org.carevisor.agent.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.carevisor.agent.storage.SpaceGauge;
import org.carevisor.agent.storage.StorageService;
import org.carevisor.agent.vm.Taps;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.Protocol;

/** Reads the host's CPUs, memory and storage for each report; constant facts are read once. Thread-safe. */
public final class HostInventoryCollector {
    private final String hostId;
    private final String hostName;
    private final String endpoint;
    private final String qemuVersion;
    private final String accelerator;
    private final List<String> warnings;
    private final Supplier<List<String>> conditions;
    private final String cpuModel;
    private final StorageService storage;
    private final SpaceGauge space;
    private final BooleanSupplier shuttingDown;
    private final List<String> cpuModels;
    private final String migrationAddress;
    private final int migrationPortFrom;
    private final int migrationPortTo;

    /**
     * {@code space} gives the shared storage's size without waiting (a hanging storage must not stop the reports).
     * {@code warnings} are fixed at start (e.g. no KVM); {@code conditions} are asked for at every report
     * (e.g. a storage lease that is not renewed) and must not block.
     */
    public HostInventoryCollector(String hostId, String hostName, String endpoint, String qemuVersion,
                                  String accelerator, List<String> warnings, Supplier<List<String>> conditions,
                                  StorageService storage, SpaceGauge space,
                                  BooleanSupplier shuttingDown, List<String> cpuModels,
                                  String migrationAddress, int migrationPortFrom, int migrationPortTo) {
        this.hostId = hostId;
        this.hostName = hostName;
        this.endpoint = endpoint;
        this.qemuVersion = qemuVersion;
        this.accelerator = accelerator;
        this.warnings = List.copyOf(warnings);
        this.conditions = conditions;
        this.storage = storage;
        this.space = space;
        this.shuttingDown = shuttingDown;
        this.cpuModel = readCpuModel();
        this.cpuModels = List.copyOf(cpuModels);
        this.migrationAddress = migrationAddress;
        this.migrationPortFrom = migrationPortFrom;
        this.migrationPortTo = migrationPortTo;
    }

    public HostInventory collect() {
        long[] mem = readMemInfo();
        List<String> now = new ArrayList<>(warnings);
        now.addAll(conditions.get());
        space.warning().ifPresent(now::add);
        var size = space.last();
        return new HostInventory(hostId, hostName, endpoint, Runtime.getRuntime().availableProcessors(), cpuModel,
                mem[0], mem[1], storage.root().toString(), size.total(), StorageService.freeOf(size.usable()), qemuVersion,
                accelerator, now, shuttingDown.getAsBoolean(), AgentVersion.VERSION, Protocol.VERSION,
                storage.domainId(), storage.localFreeBytes(), cpuModels, Taps.bridges(), migrationAddress,
                migrationPortFrom, migrationPortTo);
    }

    /**
     * The CPU models {@code qemu-system-x86_64 -cpu help} lists ({@code x86 NAME  description} lines); the
     * models that need KVM ({@code host}) only when KVM is used.
     */
    public static List<String> cpuModels(String qemuBinary, boolean kvm) {
        org.carevisor.qemu.ProcessRunner.Result r = org.carevisor.qemu.ProcessRunner.run(
                List.of(qemuBinary, "-cpu", "help"), java.time.Duration.ofSeconds(20));
        if (!r.ok()) {
            return List.of("qemu64");
        }
        return parseCpuModels(r.stdout(), kvm);
    }

    static List<String> parseCpuModels(String help, boolean kvm) {
        java.util.TreeSet<String> models = new java.util.TreeSet<>();
        for (String line : help.lines().toList()) {
            String[] parts = line.strip().split("\\s+");
            if (parts.length >= 2 && parts[0].equals("x86")) {
                String model = parts[1];
                if (kvm || !model.equals("host")) {
                    models.add(model);
                }
            }
        }
        return List.copyOf(models);
    }

    /** MemTotal and MemAvailable in MiB. */
    static long[] readMemInfo() {
        long total = 0;
        long available = 0;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                String[] parts = line.split("\\s+");
                if (line.startsWith("MemTotal:")) {
                    total = Long.parseLong(parts[1]) / 1024;
                } else if (line.startsWith("MemAvailable:")) {
                    available = Long.parseLong(parts[1]) / 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            total = Runtime.getRuntime().maxMemory() >> 20;
        }
        return new long[] {total, available};
    }

    private static String readCpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).strip();
                }
            }
        } catch (IOException e) {
            // fall through
        }
        return "unknown";
    }
}
