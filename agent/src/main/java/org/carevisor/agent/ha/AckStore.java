package org.carevisor.agent.ha;

import java.io.IOException;
import java.nio.file.Files;
import org.carevisor.protocol.ProtocolJson;
import org.carevisor.protocol.ReportAck;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The manager's last answer to a report ({@link ReportAck}: which VMs of this host are HA, and the isolation
 * response), kept in {@link HaDir#ack()} so that a restarted agent, and an agent that cannot reach the
 * manager, still know them. Before any ack: no HA VMs. Thread-safe.
 */
public final class AckStore {
    private static final Logger LOG = LoggerFactory.getLogger(AckStore.class);
    private static final ReportAck NONE = new ReportAck(null, null);

    private final HaDir ha;
    private volatile ReportAck current;

    /** Loads the kept ack, if any. */
    public AckStore(HaDir ha) {
        this.ha = ha;
        ReportAck loaded = NONE;
        if (Files.exists(ha.ack())) {
            try {
                loaded = ProtocolJson.mapper().readValue(ha.ack().toFile(), ReportAck.class);
            } catch (IOException e) {
                LOG.warn("ignoring the kept HA settings {}: {}", ha.ack(), e.getMessage());
            }
        }
        this.current = loaded;
    }

    public ReportAck current() {
        return current;
    }

    /** Takes a new ack; keeps it on disk when it differs. True when it changed. */
    public synchronized boolean accept(ReportAck ack) {
        if (ack.equals(current)) {
            return false;
        }
        ReportAck before = current;
        current = ack;
        try {
            ha.write(ha.ack(), ProtocolJson.mapper().writeValueAsString(ack));
        } catch (IOException e) {
            LOG.warn("cannot keep the HA settings in {}: {}", ha.ack(), e.getMessage());
        }
        LOG.info("HA settings from the manager: HA VMs {} (were {}), isolation response {}", ack.haVms(),
                before.haVms(), ack.isolationResponse());
        return true;
    }
}
