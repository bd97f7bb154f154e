package org.carevisor.protocol;

import java.util.List;
import java.util.Objects;

/**
 * What an agent needs to run one VM: identity, size, disks and NICs.
 * Disk paths are relative to the host's storage root; the agent refuses paths that leave it.
 *
 * @param id          VM id; also the SMBIOS system UUID the guest sees
 * @param name        VM name (shown as the QEMU process name)
 * @param cpus        virtual CPUs
 * @param memoryMiB   guest memory in MiB
 * @param machine     QEMU machine type, e.g. {@code pc}
 * @param cpuModel    QEMU CPU model, e.g. {@code qemu64}
 * @param disks       disks in boot order
 * @param nics        network interfaces
 * @param specVersion  increases with every change of the spec
 * @param loadSnapshot when set, QEMU starts from this internal snapshot (memory and disks) instead of booting
 */
public record VmSpec(String id, String name, int cpus, int memoryMiB, String machine, String cpuModel,
                     List<DiskSpec> disks, List<NicSpec> nics, long specVersion, String loadSnapshot) {
    public VmSpec {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        machine = machine == null ? "pc" : machine;
        cpuModel = cpuModel == null ? "qemu64" : cpuModel;
        disks = disks == null ? List.of() : List.copyOf(disks);
        nics = nics == null ? List.of() : List.copyOf(nics);
    }

    /** A spec that boots normally. */
    public VmSpec(String id, String name, int cpus, int memoryMiB, String machine, String cpuModel,
                  List<DiskSpec> disks, List<NicSpec> nics, long specVersion) {
        this(id, name, cpus, memoryMiB, machine, cpuModel, disks, nics, specVersion, null);
    }

    /** The same spec, starting from the given internal snapshot. */
    public VmSpec withLoadSnapshot(String tag) {
        return new VmSpec(id, name, cpus, memoryMiB, machine, cpuModel, disks, nics, specVersion, tag);
    }
}
