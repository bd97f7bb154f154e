-- Carevisor schema version 1. Portable SQL: runs unchanged on H2 2.x and PostgreSQL 13+.
-- Desired state (vms, vm_disks, vm_nics, vm_port_forwards) is kept apart from observed state (vm_observed).

CREATE TABLE hosts (
    id              VARCHAR(36)   PRIMARY KEY,
    name            VARCHAR(255)  NOT NULL,
    endpoint        VARCHAR(1024) NOT NULL,
    inventory_json  VARCHAR(100000) NOT NULL,
    first_seen      TIMESTAMP WITH TIME ZONE NOT NULL,
    last_seen       TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE images (
    id            VARCHAR(36)   PRIMARY KEY,
    name          VARCHAR(255)  NOT NULL UNIQUE,
    path          VARCHAR(1024) NOT NULL UNIQUE,
    format        VARCHAR(16)   NOT NULL,
    virtual_size  BIGINT        NOT NULL,
    actual_size   BIGINT        NOT NULL,
    present       BOOLEAN       NOT NULL,
    discovered_at TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at    TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE vms (
    id               VARCHAR(36)  PRIMARY KEY,
    name             VARCHAR(64)  NOT NULL UNIQUE,
    description      VARCHAR(1000),
    cpus             INTEGER      NOT NULL,
    memory_mib       INTEGER      NOT NULL,
    machine          VARCHAR(32)  NOT NULL,
    cpu_model        VARCHAR(64)  NOT NULL,
    host_id          VARCHAR(36)  REFERENCES hosts(id),
    power_state      VARCHAR(16)  NOT NULL,
    lifecycle        VARCHAR(16)  NOT NULL,
    spec_version     BIGINT       NOT NULL,
    created_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    power_changed_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE vm_disks (
    vm_id           VARCHAR(36)   NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
    disk_id         VARCHAR(31)   NOT NULL,
    position        INTEGER       NOT NULL,
    path            VARCHAR(1024) NOT NULL UNIQUE,
    format          VARCHAR(16)   NOT NULL,
    size_bytes      BIGINT        NOT NULL,
    source_image_id VARCHAR(36),
    PRIMARY KEY (vm_id, disk_id)
);

CREATE TABLE vm_nics (
    vm_id    VARCHAR(36) NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
    nic_id   VARCHAR(31) NOT NULL,
    position INTEGER     NOT NULL,
    mac      VARCHAR(17) NOT NULL UNIQUE,
    network  VARCHAR(32) NOT NULL,
    PRIMARY KEY (vm_id, nic_id)
);

CREATE TABLE vm_port_forwards (
    vm_id      VARCHAR(36) NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
    nic_id     VARCHAR(31) NOT NULL,
    protocol   VARCHAR(3)  NOT NULL,
    host_port  INTEGER     NOT NULL,
    guest_port INTEGER     NOT NULL,
    UNIQUE (protocol, host_port)
);

CREATE TABLE vm_observed (
    vm_id       VARCHAR(36)  PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,
    host_id     VARCHAR(36),
    state       VARCHAR(16)  NOT NULL,
    reason      VARCHAR(2000),
    stop_cause  VARCHAR(32),
    pid         BIGINT,
    since       TIMESTAMP WITH TIME ZONE,
    started_at  TIMESTAMP WITH TIME ZONE,
    exit_code   INTEGER,
    observed_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE tasks (
    id           VARCHAR(36)   PRIMARY KEY,
    kind         VARCHAR(64)   NOT NULL,
    target_type  VARCHAR(32),
    target_id    VARCHAR(64),
    target_name  VARCHAR(255),
    state        VARCHAR(16)   NOT NULL,
    phase        VARCHAR(128),
    progress     INTEGER       NOT NULL,
    message      VARCHAR(2000),
    error_code   VARCHAR(64),
    error_detail VARCHAR(4000),
    actor        VARCHAR(255)  NOT NULL,
    created_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    started_at   TIMESTAMP WITH TIME ZONE,
    finished_at  TIMESTAMP WITH TIME ZONE
);
CREATE INDEX tasks_target ON tasks (target_id, created_at);

-- Every change, by users and by automatic processes, passes through one writer (AuditLog).
CREATE TABLE audit_log (
    seq            BIGINT        PRIMARY KEY,
    at             TIMESTAMP WITH TIME ZONE NOT NULL,
    actor          VARCHAR(255)  NOT NULL,
    action         VARCHAR(128)  NOT NULL,
    target_type    VARCHAR(32),
    target_id      VARCHAR(64),
    target_name    VARCHAR(255),
    old_value      VARCHAR(100000),
    new_value      VARCHAR(100000),
    reason         VARCHAR(2000),
    outcome        VARCHAR(16)   NOT NULL,
    client_address VARCHAR(64),
    task_id        VARCHAR(36)
);
CREATE INDEX audit_target ON audit_log (target_id, seq);
