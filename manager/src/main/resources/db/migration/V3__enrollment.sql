-- Carevisor schema version 3: host enrollment with one-time join tokens and certificates.

CREATE TABLE join_tokens (
    id           VARCHAR(36)  PRIMARY KEY,
    token_hash   VARCHAR(64)  NOT NULL UNIQUE,
    created_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    created_by   VARCHAR(255) NOT NULL,
    expires_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    used_at      TIMESTAMP WITH TIME ZONE,
    used_by_host VARCHAR(36)
);

ALTER TABLE hosts ADD COLUMN cert_serial VARCHAR(64);
ALTER TABLE hosts ADD COLUMN cert_fingerprint VARCHAR(80);
ALTER TABLE hosts ADD COLUMN enrolled_at TIMESTAMP WITH TIME ZONE;

CREATE TABLE revoked_certificates (
    serial     VARCHAR(64)  PRIMARY KEY,
    host_id    VARCHAR(36)  NOT NULL,
    host_name  VARCHAR(255),
    revoked_at TIMESTAMP WITH TIME ZONE NOT NULL,
    revoked_by VARCHAR(255) NOT NULL,
    reason     VARCHAR(1000)
);
