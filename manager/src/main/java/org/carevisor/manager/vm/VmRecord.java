package org.carevisor.manager.vm;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.protocol.NicSpec;
import org.carevisor.protocol.PortForward;
import org.carevisor.protocol.VmSpec;

/**
 * A VM's desired state as stored: definition, assigned host and desired power state, plus where it came from
 * ({@code templateId}), its snapshot position ({@code currentSnapshotId}) and, when archived, its archive file.
 */
public record VmRecord(String id, String name, String description, int cpus, int memoryMiB, String machine,
                       String cpuModel, String hostId, PowerState powerState, Lifecycle lifecycle, long specVersion,
                       Instant createdAt, Instant updatedAt, Instant powerChangedAt, List<Disk> disks,
                       List<Nic> nics, String templateId, String currentSnapshotId, String archivePath,
                       Instant archivedAt) {
    public VmRecord {
        disks = List.copyOf(disks);
        nics = List.copyOf(nics);
    }

    /**
     * One disk: a file in the storage domain. {@code baseTemplateId} is set for a linked clone's overlay: the
     * disk needs that template's base image.
     */
    public record Disk(String diskId, int position, String path, String format, long sizeBytes,
                       String sourceImageId, String baseTemplateId) {
    }

    /** One NIC with its MAC and port forwards. */
    public record Nic(String nicId, int position, String mac, String network, List<Forward> forwards) {
        public Nic {
            forwards = List.copyOf(forwards);
        }
    }

    /** A host port forwarded into the guest. */
    public record Forward(String protocol, int hostPort, int guestPort) {
    }

    /** The spec the agent needs to run this VM. */
    public VmSpec toSpec() {
        List<DiskSpec> d = new ArrayList<>();
        for (Disk disk : disks) {
            d.add(new DiskSpec(disk.diskId(), disk.path(), disk.format(), false));
        }
        List<NicSpec> n = new ArrayList<>();
        for (Nic nic : nics) {
            n.add(new NicSpec(nic.nicId(), nic.mac(), nic.network(), nic.forwards().stream()
                    .map(f -> new PortForward(f.protocol(), null, f.hostPort(), f.guestPort())).toList()));
        }
        return new VmSpec(id, name, cpus, memoryMiB, machine, cpuModel, d, n, specVersion);
    }

    /** True when any disk is a linked clone's overlay on a template. */
    public boolean isLinkedClone() {
        return disks.stream().anyMatch(d -> d.baseTemplateId() != null);
    }
}
