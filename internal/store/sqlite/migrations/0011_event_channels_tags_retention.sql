-- Events carry channels (routing: an endpoint with channels receives only
-- events with one of them) and tags (for filtering), each a JSON array,
-- NULL when none. An event may ask for its payload to be removed early:
-- payload_expires_at is when, NULL when not (or once done); the
-- retention job then clears the payload and sets payload_expired. The
-- partial index holds only the events still waiting for that, so the job
-- finds the due ones without walking the rest.
ALTER TABLE events ADD COLUMN channels TEXT;
ALTER TABLE events ADD COLUMN tags TEXT;
ALTER TABLE events ADD COLUMN payload_expires_at INTEGER;
ALTER TABLE events ADD COLUMN payload_expired INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_payload_expiry ON events (payload_expires_at)
	WHERE payload_expires_at IS NOT NULL;
-- An endpoint's own uid (in its settings) is unique among the app's live
-- endpoints: the API checks first and answers 409, and this index holds
-- it when two requests race.
CREATE UNIQUE INDEX endpoints_uid ON endpoints (app_id, json_extract(settings, '$.uid'))
	WHERE deleted_at IS NULL AND json_extract(settings, '$.uid') IS NOT NULL;
