-- Portal sessions record the key that minted them (parent_id, NULL for a
-- key made with the admin token or by POST /v1/api-keys): APIKeyDelete
-- removes a key together with the keys it minted, and APIKeyByHash finds
-- no key whose parent is gone.
ALTER TABLE api_keys ADD COLUMN parent_id TEXT COLLATE "C";
-- The keys a key minted, for APIKeyDelete; most keys have none.
CREATE INDEX api_keys_parent ON api_keys (parent_id) WHERE parent_id IS NOT NULL;
-- An app's keys of one scope alive at a time (APIKeyCreateLimited counts
-- the live portal sessions of an app): a range of this index, never the
-- expired sessions kept until retention removes them.
CREATE INDEX api_keys_alive ON api_keys (app_id, scope, expires_at);
