package org.carevisor.manager.vm;

import java.time.Instant;
import java.util.List;

/**
 * A VM as the API shows it: desired state ({@code powerState}) beside observed state ({@code state}).
 *
 * @param powerState    desired power state: running, stopped or paused
 * @param state         observed state: stopped, starting, running, paused, stopping, crashed or unknown
 * @param stateReason   why it is in that state (e.g. what killed QEMU)
 * @param guestPort     host port forwarded to the guest's port 80, if any
 * @param guestUrl      URL of the guest's port 80 (through the forward, or at the guest's own address on a
 *                      bridged network), while the VM runs
 * @param cluster       the cluster the VM belongs to
 * @param storage       {@code shared} (can move between hosts) or {@code local} (stays on its host)
 */
public record VmView(String id, String name, String description, int cpus, int memoryMiB, PowerState powerState,
                     String state, String stateReason, String stopCause, Instant stateSince, String host,
                     String hostId, Integer guestPort, String guestUrl, List<ForwardView> forwards,
                     List<DiskView> disks, List<NicView> nics, Lifecycle lifecycle, Long pid, Instant startedAt,
                     Integer exitCode, long specVersion, Instant createdAt, Instant updatedAt, String templateId,
                     String currentSnapshotId, String archivePath, Instant archivedAt, String cluster,
                     String clusterId, String storage, Instant lastMigratedAt, boolean gxp) {

    /** A forward with the address it listens on. */
    public record ForwardView(String nic, String protocol, String hostAddress, int hostPort, int guestPort) {
    }

    /** A disk; {@code baseTemplateId} is set when it is a linked clone's overlay on that template. */
    public record DiskView(String id, String path, String format, long sizeBytes, String sourceImageId,
                           String baseTemplateId) {
    }

    /** A NIC; {@code ip} is the fixed address on a bridged network with a pool. */
    public record NicView(String id, String mac, String network, String ip) {
    }
}
