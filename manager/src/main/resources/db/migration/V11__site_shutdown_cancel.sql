-- Carevisor schema version 11: a site shutdown's cancel is persisted (a restarted manager honours it, and the
-- step to the point of no return is refused once a cancel is stored), and the hosts it made refuse VM starts are
-- recorded (a cancel or resume undoes only those, not a drain an operator made). Portable SQL (H2 2.x, PostgreSQL).

ALTER TABLE site_shutdowns ADD COLUMN cancelled_by VARCHAR(255);

CREATE TABLE site_shutdown_drained (
    shutdown_id   VARCHAR(36)   NOT NULL REFERENCES site_shutdowns(id) ON DELETE CASCADE,
    host_id       VARCHAR(36)   NOT NULL,
    PRIMARY KEY (shutdown_id, host_id)
);
