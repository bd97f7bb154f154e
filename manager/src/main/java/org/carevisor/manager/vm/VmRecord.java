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
                       Instant archivedAt, String clusterId, Instant lastMigratedAt, boolean gxp) {
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

    /**
     * One NIC with its MAC, network and port forwards (user networking) or fixed address (bridged networks
     * with a pool). {@code kind}, {@code bridge}, {@code prefix} and {@code gateway} come from the network.
     */
    public record Nic(String nicId, int position, String mac, String network, List<Forward> forwards, String ip,
                      String kind, String bridge, Integer prefix, String gateway) {
        public Nic {
            forwards = List.copyOf(forwards);
            kind = kind == null ? "user" : kind;
        }

        /** A user-mode NIC. */
        public Nic(String nicId, int position, String mac, String network, List<Forward> forwards) {
            this(nicId, position, mac, network, forwards, null, "user", null, null, null);
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
            if ("bridge".equals(nic.kind())) {
                n.add(new NicSpec(nic.nicId(), nic.mac(), "bridge", List.of(), nic.bridge(),
                        nic.ip() == null || nic.prefix() == null ? null : nic.ip() + "/" + nic.prefix(), nic.gateway()));
            } else {
                n.add(new NicSpec(nic.nicId(), nic.mac(), "user", nic.forwards().stream()
                        .map(f -> new PortForward(f.protocol(), null, f.hostPort(), f.guestPort())).toList()));
            }
        }
        return new VmSpec(id, name, cpus, memoryMiB, machine, cpuModel, d, n, specVersion);
    }

    /** True when a disk lives on the local storage of the VM's host: the VM cannot move to another host. */
    public boolean onLocalStorage() {
        return disks.stream().anyMatch(d -> d.path().startsWith(org.carevisor.protocol.DiskSpec.LOCAL_PREFIX));
    }

    /** The bridges the VM's NICs need on a host. */
    public java.util.Set<String> bridges() {
        java.util.Set<String> out = new java.util.TreeSet<>();
        nics.stream().filter(n -> "bridge".equals(n.kind()) && n.bridge() != null).forEach(n -> out.add(n.bridge()));
        return out;
    }

    /** True when any disk is a linked clone's overlay on a template. */
    public boolean isLinkedClone() {
        return disks.stream().anyMatch(d -> d.baseTemplateId() != null);
    }
}
