-- Carevisor schema version 9.2: the manager keeps each host's current certificate (PEM), not only its serial and
-- fingerprint, to verify the storage leases the host signs with its key. Stored at enrollment; for hosts enrolled
-- before this version, from the client certificate of their next report (it must be the enrolled serial).

ALTER TABLE hosts ADD COLUMN cert_pem VARCHAR(8000);
