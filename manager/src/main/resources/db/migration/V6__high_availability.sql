-- Carevisor schema version 6: high availability. Portable SQL (H2 2.x and PostgreSQL 13+).

-- Per-VM HA settings. A VM without a row is not protected.
CREATE TABLE vm_ha (
    vm_id                 VARCHAR(36)  PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,
    enabled               BOOLEAN      NOT NULL,
    priority              INTEGER      NOT NULL,
    depends_on            VARCHAR(4000) NOT NULL,
    health_check          VARCHAR(500),
    health_interval_s     INTEGER      NOT NULL,
    health_failures       INTEGER      NOT NULL,
    max_restarts_per_hour INTEGER      NOT NULL,
    updated_at            TIMESTAMP WITH TIME ZONE NOT NULL
);

-- Per-cluster HA settings. A cluster without a row uses the defaults (admission control on, power off).
CREATE TABLE cluster_ha (
    cluster_id          VARCHAR(36)  PRIMARY KEY REFERENCES clusters(id) ON DELETE CASCADE,
    admission_control   BOOLEAN      NOT NULL,
    isolation_response  VARCHAR(16)  NOT NULL,
    updated_at          TIMESTAMP WITH TIME ZONE NOT NULL
);

-- How to fence (power off from outside) a host. The secret is kept here so the manager can fence unattended;
-- the API never returns it.
CREATE TABLE host_fence (
    host_id     VARCHAR(36)  PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
    kind        VARCHAR(16)  NOT NULL,
    address     VARCHAR(255),
    username    VARCHAR(255),
    secret      VARCHAR(1000),
    target      VARCHAR(255),
    ca_pem      VARCHAR(20000),
    updated_at  TIMESTAMP WITH TIME ZONE NOT NULL
);

-- The HA engine's durable state (one row): host health and fencing, restarts awaited or under way.
CREATE TABLE ha_state (
    id          INTEGER      PRIMARY KEY,
    state_json  VARCHAR(1000000) NOT NULL,
    updated_at  TIMESTAMP WITH TIME ZONE NOT NULL
);
