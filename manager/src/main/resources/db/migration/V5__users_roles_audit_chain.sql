-- Carevisor schema version 5: users, roles and scoped role assignments, sessions and API tokens,
-- security settings, the hash-chained audit trail with signed checkpoints, electronic signatures and
-- audit reviews. Portable SQL (H2 2.x and PostgreSQL 13+).

CREATE TABLE users (
    id                   VARCHAR(36)   PRIMARY KEY,
    username             VARCHAR(64)   NOT NULL UNIQUE,
    full_name            VARCHAR(200)  NOT NULL,
    email                VARCHAR(254),
    password_hash        VARCHAR(255)  NOT NULL,
    enabled              BOOLEAN       NOT NULL,
    must_change_password BOOLEAN       NOT NULL,
    failed_logins        INTEGER       DEFAULT 0 NOT NULL,
    locked_until         TIMESTAMP WITH TIME ZONE,
    emergency            BOOLEAN       DEFAULT FALSE NOT NULL,
    password_changed_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    last_login_at        TIMESTAMP WITH TIME ZONE,
    created_at           TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE roles (
    id          VARCHAR(36)   PRIMARY KEY,
    name        VARCHAR(64)   NOT NULL UNIQUE,
    description VARCHAR(1000),
    builtin     BOOLEAN       NOT NULL,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE role_privileges (
    role_id   VARCHAR(36) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    privilege VARCHAR(64) NOT NULL,
    PRIMARY KEY (role_id, privilege)
);

-- scope_type: global (scope_id NULL), cluster, host or vm
CREATE TABLE role_assignments (
    id         VARCHAR(36)  PRIMARY KEY,
    user_id    VARCHAR(36)  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id    VARCHAR(36)  NOT NULL REFERENCES roles(id),
    scope_type VARCHAR(16)  NOT NULL,
    scope_id   VARCHAR(36),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX role_assignments_user ON role_assignments (user_id);

-- kind: session (login; idle timeout) or api (API token for scripts; fixed expiry)
CREATE TABLE auth_tokens (
    id             VARCHAR(36)  PRIMARY KEY,
    token_hash     VARCHAR(64)  NOT NULL UNIQUE,
    user_id        VARCHAR(36)  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind           VARCHAR(16)  NOT NULL,
    name           VARCHAR(64),
    created_at     TIMESTAMP WITH TIME ZONE NOT NULL,
    last_used_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    expires_at     TIMESTAMP WITH TIME ZONE NOT NULL,
    revoked_at     TIMESTAMP WITH TIME ZONE,
    client_address VARCHAR(64)
);

CREATE TABLE settings (
    name       VARCHAR(64)   PRIMARY KEY,
    setting_value VARCHAR(4000) NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL
);

ALTER TABLE vms ADD COLUMN gxp BOOLEAN DEFAULT FALSE NOT NULL;

-- The audit chain: hash = SHA-256(prev_hash || canonical form of the record); see AuditChain.
ALTER TABLE audit_log ADD COLUMN actor_id VARCHAR(36);
ALTER TABLE audit_log ADD COLUMN signer_name VARCHAR(200);
ALTER TABLE audit_log ADD COLUMN signature_meaning VARCHAR(16);
ALTER TABLE audit_log ADD COLUMN signed_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE audit_log ADD COLUMN prev_hash VARCHAR(64);
ALTER TABLE audit_log ADD COLUMN hash VARCHAR(64);
CREATE INDEX audit_at ON audit_log (at);
CREATE INDEX audit_actor ON audit_log (actor, seq);

-- One row: the last record of the chain. Appends lock it (SELECT ... FOR UPDATE) until they commit.
CREATE TABLE audit_head (
    id   INTEGER     PRIMARY KEY,
    seq  BIGINT      NOT NULL,
    hash VARCHAR(64) NOT NULL
);

-- The chain head signed with the manager's key (ECDSA P-256 over "carevisor-audit-v1|seq|hash|signed_at").
CREATE TABLE audit_checkpoints (
    seq            BIGINT        PRIMARY KEY,
    hash           VARCHAR(64)   NOT NULL,
    signed_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    signature      VARCHAR(200)  NOT NULL,
    certificate    VARCHAR(4000) NOT NULL
);

CREATE TABLE audit_reviews (
    id             VARCHAR(36)   PRIMARY KEY,
    period_from    TIMESTAMP WITH TIME ZONE NOT NULL,
    period_to      TIMESTAMP WITH TIME ZONE NOT NULL,
    record_count   BIGINT        NOT NULL,
    last_seq       BIGINT        NOT NULL,
    head_hash      VARCHAR(64)   NOT NULL,
    chain_ok       BOOLEAN       NOT NULL,
    conclusion     VARCHAR(4000) NOT NULL,
    reviewer_id    VARCHAR(36)   NOT NULL,
    reviewer_name  VARCHAR(200)  NOT NULL,
    meaning        VARCHAR(16)   NOT NULL,
    signed_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    audit_seq      BIGINT        NOT NULL
);
