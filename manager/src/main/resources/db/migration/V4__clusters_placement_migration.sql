-- Carevisor schema version 4: clusters, host tags and maintenance, networks with address management,
-- placement rules and live migrations. Portable SQL (H2 2.x and PostgreSQL 13+).

CREATE TABLE clusters (
    id                       VARCHAR(36)   PRIMARY KEY,
    name                     VARCHAR(64)   NOT NULL UNIQUE,
    description              VARCHAR(1000),
    cpu_model                VARCHAR(64)   NOT NULL,
    criticality              VARCHAR(16)   NOT NULL,
    storage_domain_id        VARCHAR(36),
    cpu_overcommit           DOUBLE PRECISION NOT NULL,
    memory_overcommit        DOUBLE PRECISION NOT NULL,
    migration_bandwidth_mib  INTEGER       NOT NULL,
    migration_downtime_ms    INTEGER       NOT NULL,
    migration_auto_converge  BOOLEAN       NOT NULL,
    migration_max_parallel   INTEGER       NOT NULL,
    migration_timeout_s      INTEGER       NOT NULL,
    balancer_mode            VARCHAR(16)   NOT NULL,
    balancer_threshold_pct   INTEGER       NOT NULL,
    balancer_interval_s      INTEGER       NOT NULL,
    balancer_cooldown_min    INTEGER       NOT NULL,
    created_at               TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at               TIMESTAMP WITH TIME ZONE NOT NULL
);

INSERT INTO clusters (id, name, description, cpu_model, criticality, cpu_overcommit, memory_overcommit,
                      migration_bandwidth_mib, migration_downtime_ms, migration_auto_converge,
                      migration_max_parallel, migration_timeout_s, balancer_mode, balancer_threshold_pct,
                      balancer_interval_s, balancer_cooldown_min, created_at, updated_at)
VALUES ('00000000-0000-4000-8000-000000000001', 'default', 'hosts that joined without naming a cluster',
        'qemu64', 'standard', 4.0, 1.0, 1024, 300, TRUE, 2, 600, 'off', 20, 60, 30,
        CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);

ALTER TABLE hosts ADD COLUMN cluster_id VARCHAR(36);
UPDATE hosts SET cluster_id = '00000000-0000-4000-8000-000000000001';
ALTER TABLE hosts ALTER COLUMN cluster_id SET NOT NULL;
ALTER TABLE hosts ADD CONSTRAINT hosts_cluster FOREIGN KEY (cluster_id) REFERENCES clusters(id);
ALTER TABLE hosts ADD COLUMN maintenance BOOLEAN DEFAULT FALSE NOT NULL;
ALTER TABLE hosts ADD COLUMN maintenance_reason VARCHAR(2000);
ALTER TABLE hosts ADD COLUMN maintenance_since TIMESTAMP WITH TIME ZONE;
ALTER TABLE hosts ADD COLUMN reserved_memory_mib INTEGER DEFAULT 512 NOT NULL;
ALTER TABLE hosts ADD COLUMN description VARCHAR(1000);

CREATE TABLE host_tags (
    host_id VARCHAR(36) NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    tag     VARCHAR(64) NOT NULL,
    PRIMARY KEY (host_id, tag)
);

ALTER TABLE join_tokens ADD COLUMN cluster_id VARCHAR(36);

ALTER TABLE vms ADD COLUMN cluster_id VARCHAR(36);
UPDATE vms SET cluster_id = '00000000-0000-4000-8000-000000000001';
ALTER TABLE vms ALTER COLUMN cluster_id SET NOT NULL;
ALTER TABLE vms ADD CONSTRAINT vms_cluster FOREIGN KEY (cluster_id) REFERENCES clusters(id);
ALTER TABLE vms ADD COLUMN last_migrated_at TIMESTAMP WITH TIME ZONE;

-- Networks: 'user' is QEMU user-mode networking (port forwards); 'bridge' puts guests on a host bridge
-- that every host of the cluster has, with addresses from the pool handed to the guest via fw_cfg.
CREATE TABLE networks (
    id          VARCHAR(36)  PRIMARY KEY,
    name        VARCHAR(32)  NOT NULL UNIQUE,
    kind        VARCHAR(16)  NOT NULL,
    bridge      VARCHAR(15),
    cidr        VARCHAR(18),
    gateway     VARCHAR(15),
    pool_from   VARCHAR(15),
    pool_to     VARCHAR(15),
    description VARCHAR(1000),
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL
);
INSERT INTO networks (id, name, kind, description, created_at)
VALUES ('00000000-0000-4000-8000-000000000002', 'user', 'user',
        'QEMU user-mode networking: the guest reaches out through the host; the host reaches the guest through port forwards',
        CURRENT_TIMESTAMP);

ALTER TABLE vm_nics ADD COLUMN ip VARCHAR(15);
CREATE UNIQUE INDEX vm_nics_address ON vm_nics (network, ip);

CREATE TABLE placement_rules (
    id            VARCHAR(36)   PRIMARY KEY,
    name          VARCHAR(64)   NOT NULL UNIQUE,
    kind          VARCHAR(32)   NOT NULL,
    enforcement   VARCHAR(8)    NOT NULL,
    host_tag      VARCHAR(64),
    host_relation VARCHAR(8),
    description   VARCHAR(1000),
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    created_by    VARCHAR(255)  NOT NULL
);

CREATE TABLE placement_rule_vms (
    rule_id VARCHAR(36) NOT NULL REFERENCES placement_rules(id) ON DELETE CASCADE,
    vm_id   VARCHAR(36) NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, vm_id)
);

-- Live migrations, kept as history. The phase is written before each step, so that a manager that
-- stopped in the middle knows at restart which side may run the guest.
CREATE TABLE migrations (
    id                VARCHAR(36)   PRIMARY KEY,
    vm_id             VARCHAR(36)   NOT NULL,
    vm_name           VARCHAR(64)   NOT NULL,
    source_host_id    VARCHAR(36)   NOT NULL,
    dest_host_id      VARCHAR(36)   NOT NULL,
    phase             VARCHAR(32)   NOT NULL,
    purpose           VARCHAR(32)   NOT NULL,
    task_id           VARCHAR(36),
    actor             VARCHAR(255)  NOT NULL,
    incoming_uri      VARCHAR(255),
    bandwidth_mib     INTEGER       NOT NULL,
    downtime_limit_ms INTEGER       NOT NULL,
    auto_converge     BOOLEAN       NOT NULL,
    started_at        TIMESTAMP WITH TIME ZONE NOT NULL,
    finished_at       TIMESTAMP WITH TIME ZONE,
    downtime_ms       BIGINT,
    total_ms          BIGINT,
    transferred_bytes BIGINT,
    passes            BIGINT,
    error             VARCHAR(2000)
);
CREATE INDEX migrations_vm ON migrations (vm_id, started_at);
CREATE INDEX migrations_phase ON migrations (phase);
