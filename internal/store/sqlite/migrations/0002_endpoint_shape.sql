-- Request shaping (method, content type, headers, body template, preset):
-- one JSON document per endpoint, so that new settings need no migration.
ALTER TABLE endpoints ADD COLUMN shape TEXT NOT NULL DEFAULT '{}';
