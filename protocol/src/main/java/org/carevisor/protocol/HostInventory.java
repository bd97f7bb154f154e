package org.carevisor.protocol;

import java.util.List;

/**
 * What an agent reports about its host.
 *
 * @param hostId             stable host id created by the agent on first start
 * @param hostname           host name
 * @param endpoint           base URL where the agent accepts commands
 * @param cpus               logical CPUs
 * @param cpuModelName       CPU model name from /proc/cpuinfo
 * @param memoryMiB          physical memory
 * @param memoryAvailableMiB memory available now
 * @param storagePath        storage root
 * @param storageTotalBytes  size of the storage file system
 * @param storageFreeBytes   free bytes on the storage file system
 * @param qemuVersion        version printed by qemu-system-x86_64
 * @param accelerator        {@code kvm} or {@code tcg}
 * @param warnings           conditions an operator should know about (e.g. running without KVM)
 * @param shuttingDown       the host is stopping all its VMs; nothing may be started on it
 * @param agentVersion       agent build version
 * @param protocolVersion    protocol version the agent speaks
 * @param storageDomainId    id of the shared storage domain mounted at {@code storagePath} (from the file
 *                           {@code .carevisor-domain} in it): hosts that report the same id share the storage
 * @param localStorageFreeBytes free bytes of the host's local storage (disks that cannot move)
 * @param cpuModels          QEMU CPU models this host can run (a cluster's baseline must be one of them)
 * @param bridges            network bridges present on the host (for bridged VM networks)
 * @param migrationAddress   address on which this host receives live migrations (registered at enrollment)
 * @param migrationPortFrom  first port of the host's range for incoming migrations (0: not reported)
 * @param migrationPortTo    last port of that range
 */
public record HostInventory(String hostId, String hostname, String endpoint, int cpus, String cpuModelName,
                            long memoryMiB, long memoryAvailableMiB, String storagePath, long storageTotalBytes,
                            long storageFreeBytes, String qemuVersion, String accelerator, List<String> warnings,
                            boolean shuttingDown, String agentVersion, int protocolVersion, String storageDomainId,
                            long localStorageFreeBytes, List<String> cpuModels, List<String> bridges,
                            String migrationAddress, int migrationPortFrom, int migrationPortTo) {
    public HostInventory {
        warnings = warnings == null ? List.of() : List.copyOf(warnings);
        cpuModels = cpuModels == null ? List.of() : List.copyOf(cpuModels);
        bridges = bridges == null ? List.of() : List.copyOf(bridges);
    }
}
