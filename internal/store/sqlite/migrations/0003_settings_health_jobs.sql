-- App and endpoint settings, event type groups, event routing, test
-- deliveries, endpoint health and background jobs.
--
-- Settings are one JSON document per row, like the endpoint's shape, so
-- that new settings need no migration. Every new column has a default (or
-- is NULL), so rows written before this migration read as before.

-- herald.AppSettings: limits, operational webhook, delivery defaults.
ALTER TABLE apps ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

-- "group" is an SQL keyword: the column is group_name.
ALTER TABLE event_types ADD COLUMN group_name TEXT NOT NULL DEFAULT '';
ALTER TABLE event_types ADD COLUMN deprecated INTEGER NOT NULL DEFAULT 0;

-- herald.EndpointSettings: filter, delivery overrides, disabled state.
ALTER TABLE endpoints ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
-- Health, kept by EndpointsTrackHealth and not part of the endpoint's
-- JSON: since when every final outcome has been a failure (NULL when the
-- last one succeeded, or none came yet), and how many failures since.
ALTER TABLE endpoints ADD COLUMN failing_since INTEGER;
ALTER TABLE endpoints ADD COLUMN failed_count INTEGER NOT NULL DEFAULT 0;

-- herald.Routing as JSON; NULL for events stored without one.
ALTER TABLE events ADD COLUMN routing TEXT;

-- Deliveries made by a test send.
ALTER TABLE deliveries ADD COLUMN test INTEGER NOT NULL DEFAULT 0;

-- Progress of background operations (a recovery), read by clients while
-- they run. Few rows; the index serves AppDelete.
CREATE TABLE bulk_jobs (
	id         TEXT PRIMARY KEY,
	app_id     TEXT NOT NULL,
	kind       TEXT NOT NULL,
	state      TEXT NOT NULL,
	total      INTEGER NOT NULL DEFAULT 0,
	done       INTEGER NOT NULL DEFAULT 0,
	error      TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX bulk_jobs_app ON bulk_jobs (app_id);
