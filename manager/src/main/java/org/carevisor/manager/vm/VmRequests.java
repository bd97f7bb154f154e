package org.carevisor.manager.vm;

import java.util.List;

/** Request bodies of the VM API. Unknown fields are refused when they are read. */
public final class VmRequests {
    private VmRequests() {
    }

    /**
     * Create a VM.
     *
     * @param name        unique name
     * @param description free text
     * @param cpus        virtual CPUs (1 to the host's CPUs)
     * @param memoryMiB   memory in MiB (16 to the host's memory)
     * @param image       id or name of an image: the boot disk is a copy of it
     * @param diskSizeMiB grow the boot disk copied from {@code image} to this size
     * @param disks       further disks, each blank with a size or a copy of an image
     * @param nics        network interfaces; when omitted, one user-mode NIC forwarding a host port to guest port 80
     * @param start       start the VM once it is created
     * @param cluster     cluster (id or name) the VM belongs to; default: the default cluster
     * @param host        host (id or name) to create the VM on; default: chosen by the scheduler
     * @param storage     {@code shared} (default: the cluster's storage domain, the VM can move between hosts)
     *                    or {@code local} (the host's own storage; the VM stays on that host)
     */
    public record Create(String name, String description, Integer cpus, Integer memoryMiB, String image,
                         Long diskSizeMiB, List<Disk> disks, List<Nic> nics, Boolean start, String cluster,
                         String host, String storage) {
    }

    /** A disk to create: blank ({@code sizeMiB}) or copied from {@code image}. */
    public record Disk(String image, Long sizeMiB, String format) {
    }

    /** A NIC to create: on network {@code network} (default {@code user}); port forwards on user networks only. */
    public record Nic(String network, List<Forward> forwards) {
    }

    /** A port forward; {@code hostPort} is chosen from the configured range when omitted. */
    public record Forward(String protocol, Integer guestPort, Integer hostPort) {
    }

    /**
     * Change a VM; fields left out stay as they are. CPUs and memory only while the VM is stopped. Removing the
     * GxP mark ({@code gxp: false} on a GxP VM) lowers its protection class and needs {@code signature} (checked
     * before the change, by the API's guard).
     */
    public record Patch(String name, String description, Integer cpus, Integer memoryMiB, Boolean gxp,
                        org.carevisor.manager.auth.AuthService.SignatureRequest signature) {
    }

    /** Clone a stopped VM into a new, independent VM with a new identity. */
    public record Clone(String name, String description, Boolean start) {
    }

    /** Options of a graceful shutdown. */
    public record Shutdown(Integer timeoutSeconds) {
    }
}
