package org.carevisor.manager.template;

import java.time.Instant;
import java.util.List;

/**
 * A template (master VM): read-only base images plus the hardware and NIC layout new VMs get.
 *
 * @param version          1, 2, ... per name; a new version is made from a VM deployed from the previous one
 * @param owner            who made it
 * @param sourceVmName     the VM it was made from
 * @param parentTemplateId the template that VM was deployed from, if any (lineage)
 */
public record TemplateRecord(String id, String name, int version, String description, String guestOs, String owner,
                             TemplateState state, int cpus, int memoryMiB, List<Nic> nics, String sourceVmId,
                             String sourceVmName, String parentTemplateId, Instant createdAt, Instant qualifiedAt,
                             String qualifiedBy, Instant retiredAt, String retiredBy, List<Disk> disks) {
    public TemplateRecord {
        nics = List.copyOf(nics);
        disks = List.copyOf(disks);
    }

    /** A base image; {@code sha256} is recorded when the template is qualified. */
    public record Disk(String diskId, int position, String path, String format, long sizeBytes, String sha256) {
    }

    /** A NIC new VMs get: network and forwarded guest ports (host ports are allocated per VM). */
    public record Nic(String network, List<Forward> forwards) {
        public Nic {
            forwards = List.copyOf(forwards);
        }
    }

    /** A forwarded guest port. */
    public record Forward(String protocol, int guestPort) {
    }

    /** "name v2", as people say it. */
    public String label() {
        return name + " v" + version;
    }
}
