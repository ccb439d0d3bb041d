-- A revoked key's row holds its revocation; keep the publication too, so that a republish can
-- announce the public key again (nodes verify old events with it) along with its revocation.
ALTER TABLE own_entries ADD COLUMN published jsonb;
