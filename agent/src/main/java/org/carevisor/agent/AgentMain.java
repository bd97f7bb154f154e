package org.carevisor.agent;

import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Command-line entry of the host agent: {@code carevisor-agent --state-dir DIR --storage-dir DIR ...}. */
public final class AgentMain {
    private AgentMain() {
    }

    public static void main(String[] args) throws Exception {
        System.setProperty("carevisor.component", "agent");
        if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.println("""
                    Usage: carevisor-agent [--option value ...]
                      --state-dir DIR          agent state (host id, VM runtime files)   [var/agent]
                      --storage-dir DIR        storage root with images/ and vms/         [var/storage]
                      --listen ADDRESS         API listen address                        [127.0.0.1]
                      --port N                 API port (0: any free port)               [7701]
                      --manager-url URL        manager that receives heartbeat reports
                      --host-name NAME         host name shown to operators              [system host name]
                      --accel auto|kvm|tcg     accelerator; auto probes KVM              [auto]
                      --forward-address ADDR   address guest port forwards listen on     [127.0.0.1]
                      --report-interval-ms N   heartbeat period                          [1000]
                      --sandbox true|false     QEMU seccomp sandbox                      [true]
                      --ha-watchdog true|false HA watchdog: kills HA VMs when the storage
                                               lease is not renewed (keep it on)         [true]
                      --ha-keeper-minutes N    after an orderly stop the watchdog keeps the
                                               lease this long, then kills HA VMs (1-1440) [60]
                      --power-off-action none|exit|poweroff
                                               last step of a site shutdown, once all VMs
                                               stopped: stay on, end the agent (labs), or
                                               systemctl poweroff                         [none]
                      --qemu PATH, --qemu-img PATH                                       [from PATH]
                    Every option can also be set as CAREVISOR_AGENT_<OPTION> (e.g. CAREVISOR_AGENT_STATE_DIR).""");
            return;
        }
        AgentConfig config;
        try {
            config = AgentConfig.parse(args, System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println("carevisor-agent: " + e.getMessage() + " (see --help)");
            System.exit(2);
            return;
        }
        Logger log = LoggerFactory.getLogger(AgentMain.class);
        Agent agent;
        try {
            agent = Agent.start(config);
        } catch (java.io.IOException | RuntimeException e) {
            log.error("agent cannot start: {}", e.getMessage(), e);
            System.exit(1);
            return;
        }
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("agent stopping; running VMs keep running and are re-adopted at the next start");
            agent.close();
            stop.countDown();
        }));
        stop.await();
    }
}
