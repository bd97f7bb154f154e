-- Carevisor schema version 10: orderly site shutdown (by an operator or on a UPS signal). Portable SQL (H2 2.x and
-- PostgreSQL 13+). A shutdown is a persisted procedure: a restarted manager resumes it from its phase.

CREATE TABLE site_shutdowns (
    id                  VARCHAR(36)   PRIMARY KEY,
    state               VARCHAR(16)   NOT NULL,   -- running, succeeded, failed, cancelled
    phase               VARCHAR(16)   NOT NULL,   -- drain, stop-vms, power-off, done
    trigger_kind        VARCHAR(16)   NOT NULL,   -- operator, ups
    actor               VARCHAR(255)  NOT NULL,
    reason              VARCHAR(2000),
    vm_timeout_s        INTEGER       NOT NULL,
    power_off_hosts     BOOLEAN       NOT NULL,
    started_at          TIMESTAMP WITH TIME ZONE NOT NULL,
    finished_at         TIMESTAMP WITH TIME ZONE,
    detail              VARCHAR(2000)
);

-- What happened to each VM and host, in order.
CREATE TABLE site_shutdown_steps (
    shutdown_id   VARCHAR(36)   NOT NULL REFERENCES site_shutdowns(id) ON DELETE CASCADE,
    seq           INTEGER       NOT NULL,
    kind          VARCHAR(8)    NOT NULL,   -- vm, host
    target_id     VARCHAR(36)   NOT NULL,
    target_name   VARCHAR(255)  NOT NULL,
    wave          INTEGER       NOT NULL,
    outcome       VARCHAR(32)   NOT NULL,
    detail        VARCHAR(2000),
    done_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (shutdown_id, seq)
);

-- A host switched off by a site shutdown: high availability neither suspects nor fences it until its agent
-- reports again (accepting VM starts), whatever HA VMs are assigned to it.
ALTER TABLE hosts ADD COLUMN powered_off_at TIMESTAMP WITH TIME ZONE;
