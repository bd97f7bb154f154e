-- Carevisor schema version 7.3 (auth hardening): a password can expire. Used for the first administrator's
-- initial password (from CAREVISOR_ADMIN_PASSWORD or generated), a one-time credential for setting up that stops
-- working after --admin-password-hours unless the administrator set their own before. Portable SQL.

ALTER TABLE users ADD COLUMN password_expires_at TIMESTAMP WITH TIME ZONE;
