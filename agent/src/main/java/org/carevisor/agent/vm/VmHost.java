package org.carevisor.agent.vm;

import java.nio.file.Path;
import java.util.concurrent.ScheduledExecutorService;
import org.carevisor.qemu.QemuHostConfig;

/**
 * What every VM supervisor on a host shares: QEMU settings, the wrapper script, a scheduler for timers,
 * the callback that tells the reporter something changed, and who may kill VMs on purpose.
 *
 * @param qemu      QEMU host configuration
 * @param wrapper   shell script that runs QEMU and records its exit status
 * @param scheduler timers (shutdown deadlines, exit-status polling)
 * @param onChange  called after any VM state change; must not block
 * @param kills     tells whether an ended QEMU was killed on purpose (the HA watchdog's self-fencing)
 * @param migrationTls puts live migration streams under mutual TLS with this host's certificate
 */
public record VmHost(QemuHostConfig qemu, Path wrapper, ScheduledExecutorService scheduler, Runnable onChange,
                     DeliberateKills kills, MigrationTls migrationTls) {
}
