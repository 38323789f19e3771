-- Endpoint kinds: 'push' (Herald sends to the URL; every endpoint made
-- before this migration) or 'pull' (a client collects the deliveries over
-- the API; no URL). A column rather than a field of the settings document:
-- claims and NextDueAt test it on every due row, through the endpoint row
-- they already join.
ALTER TABLE endpoints ADD COLUMN kind TEXT NOT NULL DEFAULT 'push';
