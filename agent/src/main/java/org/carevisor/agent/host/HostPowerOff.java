package org.carevisor.agent.host;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.carevisor.agent.AgentException;
import org.carevisor.agent.vm.VmRegistry;
import org.carevisor.protocol.PowerOffAnswer;
import org.carevisor.protocol.VmStatus;
import org.carevisor.qemu.ProcessRunner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last step of an orderly site shutdown on this host: what happens is this agent's own setting
 * ({@code --power-off-action}), never something the manager names. Refused while a VM of this host still runs or
 * while the host still accepts VM starts, so a manager (or anyone holding its key) cannot switch off a host that
 * runs guests.
 */
public final class HostPowerOff {
    private static final Logger LOG = LoggerFactory.getLogger(HostPowerOff.class);
    /** How long after answering the action starts (so the answer reaches the manager). */
    private static final Duration GRACE = Duration.ofMillis(500);

    /** What this host does when asked to switch off. */
    public enum Action {
        /** Nothing: the host stays on (switched off by hand, or by its own UPS client, e.g. NUT's upsmon). */
        NONE,
        /** The agent process ends: a lab host "switched off"; the host's system stays up. */
        EXIT,
        /** {@code systemctl poweroff}: the host's operating system shuts down and powers off. */
        POWEROFF;

        public static Action parse(String s) {
            for (Action a : values()) {
                if (a.name().toLowerCase(Locale.ROOT).equals(s)) {
                    return a;
                }
            }
            throw new IllegalArgumentException("--power-off-action must be none, exit or poweroff, not '" + s + "'");
        }

        public String json() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Action action;
    private final VmRegistry vms;
    private final Runnable exit;

    /**
     * @param exit ends the agent process ({@link Action#EXIT}); the JVM's shutdown hook stops the agent in order
     */
    public HostPowerOff(Action action, VmRegistry vms, Runnable exit) {
        this.action = action;
        this.vms = vms;
        this.exit = exit;
    }

    public Action action() {
        return action;
    }

    /** Checks that the host may go down, answers what will happen, and starts it {@link #GRACE} later. */
    public synchronized PowerOffAnswer request() {
        if (!vms.shuttingDown()) {
            throw AgentException.conflict("host-not-drained", "this host still accepts VM starts; switching it off is"
                    + " the last step of a site shutdown, after its VMs were stopped");
        }
        List<String> running = vms.statuses().stream().filter(s -> s.state().hasProcess()).map(VmStatus::vmId)
                .toList();
        if (!running.isEmpty()) {
            throw AgentException.conflict("vms-running", "VM(s) still run on this host: " + String.join(", ", running)
                    + "; the host is switched off only after all its VMs stopped");
        }
        return switch (action) {
            case NONE -> new PowerOffAnswer("none", "this host stays on (--power-off-action none): switch it off by"
                    + " hand or let its own UPS client do it; its agent refuses VM starts until the site is resumed");
            case EXIT -> {
                later(exit, "agent exits");
                yield new PowerOffAnswer("exit", "the agent process ends (--power-off-action exit)");
            }
            case POWEROFF -> {
                later(() -> {
                    ProcessRunner.Result r = ProcessRunner.run(List.of("systemctl", "poweroff"), Duration.ofSeconds(30));
                    if (!r.ok()) {
                        LOG.error("site shutdown: systemctl poweroff failed: {}; the host stays on", r.stderr().strip());
                    }
                }, "systemctl poweroff");
                yield new PowerOffAnswer("poweroff", "the host's system powers off (systemctl poweroff)");
            }
        };
    }

    private static void later(Runnable r, String what) {
        Thread.ofVirtual().name("power-off").start(() -> {
            try {
                Thread.sleep(GRACE);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            LOG.warn("site shutdown: all VMs of this host stopped; {}", what);
            r.run();
        });
    }
}
