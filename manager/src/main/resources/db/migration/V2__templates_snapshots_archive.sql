-- Carevisor schema version 2: templates (master VMs), snapshots, clone lineage, archived VMs.

CREATE TABLE templates (
    id                 VARCHAR(36)   PRIMARY KEY,
    name               VARCHAR(64)   NOT NULL,
    version            INTEGER       NOT NULL,
    description        VARCHAR(1000),
    guest_os           VARCHAR(255),
    owner              VARCHAR(255)  NOT NULL,
    state              VARCHAR(16)   NOT NULL,
    cpus               INTEGER       NOT NULL,
    memory_mib         INTEGER       NOT NULL,
    nics_json          VARCHAR(10000) NOT NULL,
    source_vm_id       VARCHAR(36),
    source_vm_name     VARCHAR(64),
    parent_template_id VARCHAR(36),
    created_at         TIMESTAMP WITH TIME ZONE NOT NULL,
    qualified_at       TIMESTAMP WITH TIME ZONE,
    qualified_by       VARCHAR(255),
    retired_at         TIMESTAMP WITH TIME ZONE,
    retired_by         VARCHAR(255),
    UNIQUE (name, version)
);

CREATE TABLE template_disks (
    template_id VARCHAR(36)   NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
    disk_id     VARCHAR(31)   NOT NULL,
    position    INTEGER       NOT NULL,
    path        VARCHAR(1024) NOT NULL UNIQUE,
    format      VARCHAR(16)   NOT NULL,
    size_bytes  BIGINT        NOT NULL,
    sha256      VARCHAR(64),
    PRIMARY KEY (template_id, disk_id)
);

-- lineage: the template a VM was deployed from (any clone mode)
ALTER TABLE vms ADD COLUMN template_id VARCHAR(36);
-- the snapshot the VM's current state descends from (parent of the next snapshot)
ALTER TABLE vms ADD COLUMN current_snapshot_id VARCHAR(36);
-- archived VMs: read-only records whose disks and definition live in one export file
ALTER TABLE vms ADD COLUMN archive_path VARCHAR(1024);
ALTER TABLE vms ADD COLUMN archived_at TIMESTAMP WITH TIME ZONE;
-- linked clones: the disk is a qcow2 overlay on this template's base image
ALTER TABLE vm_disks ADD COLUMN base_template_id VARCHAR(36);

CREATE TABLE snapshots (
    id             VARCHAR(36)   PRIMARY KEY,
    vm_id          VARCHAR(36)   NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
    name           VARCHAR(64)   NOT NULL,
    description    VARCHAR(1000),
    parent_id      VARCHAR(36),
    with_memory    BOOLEAN       NOT NULL,
    vm_was_running BOOLEAN       NOT NULL,
    cpus           INTEGER       NOT NULL,
    memory_mib     INTEGER       NOT NULL,
    paused_ms      BIGINT,
    created_at     TIMESTAMP WITH TIME ZONE NOT NULL,
    created_by     VARCHAR(255)  NOT NULL,
    UNIQUE (vm_id, name)
);
CREATE INDEX snapshots_vm ON snapshots (vm_id, created_at);
