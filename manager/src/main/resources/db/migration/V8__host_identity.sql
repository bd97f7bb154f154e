-- Carevisor schema version 8: the manager assigns host identities.
-- A join token may be issued for one existing host (re-enrollment after a lost certificate or a reinstall);
-- a token without a host only ever adds a new host. A host's migration address is registered with it
-- (at enrollment; for hosts enrolled before this version, from their first report), and the manager builds
-- live-migration URIs from it.

ALTER TABLE join_tokens ADD COLUMN host_id VARCHAR(36);
ALTER TABLE hosts ADD COLUMN migration_address VARCHAR(255);
