-- Issue 12: audit checkpoints chained to each other and signed with a checkpoint key kept outside the data
-- directory; BMC passwords stored encrypted. Portable SQL (H2 2.x and PostgreSQL 13+).

-- version 1: a checkpoint made before the chain (signed by a manager certificate of the CA, "certificate" set);
-- version 2: a chained checkpoint: checkpoint_hash = SHA-256 of its signed payload, which holds the trail id,
-- the record's sequence number and hash, the signing time, prev_checkpoint (the previous checkpoint's hash) and
-- key_id (the checkpoint key's fingerprint). Existing rows are version 1.
ALTER TABLE audit_checkpoints ADD COLUMN version INTEGER DEFAULT 1 NOT NULL;
ALTER TABLE audit_checkpoints ADD COLUMN prev_checkpoint VARCHAR(64);
ALTER TABLE audit_checkpoints ADD COLUMN checkpoint_hash VARCHAR(64);
ALTER TABLE audit_checkpoints ADD COLUMN key_id VARCHAR(80);
ALTER TABLE audit_checkpoints ALTER COLUMN certificate DROP NOT NULL;

-- The trail's identity (a random UUID set by the manager), written into every chained checkpoint and anchor line:
-- an anchor file of another trail is recognised as such.
ALTER TABLE audit_head ADD COLUMN trail_id VARCHAR(36);

-- Sealed (AES-256-GCM) values are longer than the plaintext: "cvenc1:<key id>:<base64 of nonce, text, tag>".
ALTER TABLE host_fence ALTER COLUMN secret SET DATA TYPE VARCHAR(2000);
