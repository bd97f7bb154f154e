package org.carevisor.manager.ha;

import java.util.List;

/**
 * A VM's HA settings.
 *
 * @param enabled            restart the VM automatically when its host fails or its QEMU dies
 * @param priority           restart order across VMs, 0..100, higher first (EHR and lab before the rest)
 * @param dependsOn          ids of VMs that must run before this one is restarted (database before application)
 * @param healthCheck        {@code tcp:PORT} or {@code http:PORT/path}, checked on the guest's address; null = none
 * @param healthIntervalSeconds how often the health check runs
 * @param healthFailures     consecutive failed checks after which the VM is reset
 * @param maxRestartsPerHour restarts on the VM's own host (crash, failed health check) allowed per hour; host
 *                           failures do not count
 */
public record VmHa(boolean enabled, int priority, List<String> dependsOn, String healthCheck,
                   int healthIntervalSeconds, int healthFailures, int maxRestartsPerHour) {
    public static final int DEFAULT_PRIORITY = 50;

    public VmHa {
        dependsOn = dependsOn == null ? List.of() : List.copyOf(dependsOn);
    }

    /** The settings of a VM that has none stored. */
    public static VmHa off() {
        return new VmHa(false, DEFAULT_PRIORITY, List.of(), null, 10, 3, 3);
    }
}
