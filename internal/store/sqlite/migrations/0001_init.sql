-- Herald's initial schema.
--
-- Times are INTEGER Unix microseconds, UTC: they compare and index as plain
-- integers and keep the microsecond precision the store promises.
--
-- There are no foreign keys. AppDelete removes an app's rows explicitly in
-- one transaction, and the hot tables (deliveries, attempts) must not make a
-- batch fail because one row's parent vanished in the meantime: recording
-- skips such rows instead.

CREATE TABLE apps (
	id         TEXT PRIMARY KEY,
	uid        TEXT UNIQUE, -- NULL when the app has none, so many apps may have none
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE event_types (
	name        TEXT PRIMARY KEY,
	description TEXT NOT NULL DEFAULT '',
	schema      BLOB,
	sample      BLOB,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);

CREATE TABLE endpoints (
	id          TEXT PRIMARY KEY,
	app_id      TEXT NOT NULL,
	url         TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	event_types TEXT NOT NULL DEFAULT '[]', -- JSON array of names
	enabled     INTEGER NOT NULL,
	secret      TEXT NOT NULL,
	timeout_ms  INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	deleted_at  INTEGER -- set when deleted: the row stays for the history
);
CREATE INDEX endpoints_app ON endpoints (app_id, id);

CREATE TABLE events (
	id              TEXT PRIMARY KEY,
	app_id          TEXT NOT NULL,
	event_type      TEXT NOT NULL,
	payload         BLOB,
	idempotency_key TEXT, -- NULL when none
	created_at      INTEGER NOT NULL
);
CREATE INDEX events_app ON events (app_id, id);
CREATE INDEX events_idempotency ON events (app_id, idempotency_key, created_at)
	WHERE idempotency_key IS NOT NULL;

CREATE TABLE deliveries (
	id              TEXT PRIMARY KEY,
	app_id          TEXT NOT NULL,
	event_id        TEXT NOT NULL,
	endpoint_id     TEXT NOT NULL,
	event_type      TEXT NOT NULL,
	status          TEXT NOT NULL,
	attempt_count   INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER, -- NULL unless pending
	last_error      TEXT NOT NULL DEFAULT '',
	lease_owner     TEXT,
	lease_until     INTEGER,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);
-- Claims and NextDueAt walk the deliveries ready to send (pending and
-- unleased) in due order, ties broken by id, so that a claim reads rows in
-- the order it returns them and stops early. The indexes are partial: they
-- leave out the (much larger) finished history and the deliveries in
-- flight, which a claim would otherwise have to step over. The first
-- holds endpoint_id so that a claim skips capped endpoints in the index,
-- without reading their rows. The second serves claims restricted to one
-- endpoint.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id, endpoint_id)
	WHERE status = 'pending' AND lease_owner IS NULL;
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at, id)
	WHERE status = 'pending' AND lease_owner IS NULL;
-- Leased deliveries: by owner to extend or release them, by expiry to take
-- over those of a node that is gone.
CREATE INDEX deliveries_lease_owner ON deliveries (lease_owner)
	WHERE lease_owner IS NOT NULL;
CREATE INDEX deliveries_lease_until ON deliveries (lease_until)
	WHERE lease_owner IS NOT NULL;
-- Lists, newest first: of an app, of an event, of an endpoint.
CREATE INDEX deliveries_app ON deliveries (app_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id, id);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);

CREATE TABLE attempts (
	id                 TEXT PRIMARY KEY,
	delivery_id        TEXT NOT NULL,
	number             INTEGER NOT NULL,
	trigger            TEXT NOT NULL DEFAULT '',
	created_at         INTEGER NOT NULL,
	request_method     TEXT NOT NULL DEFAULT '',
	request_url        TEXT NOT NULL DEFAULT '',
	request_headers    TEXT, -- JSON object
	request_body       BLOB,
	response_status    INTEGER, -- NULL when no response came back
	response_headers   TEXT, -- JSON object, NULL when no response
	response_body      BLOB,
	response_truncated INTEGER NOT NULL DEFAULT 0,
	latency_us         INTEGER NOT NULL DEFAULT 0,
	error_kind         TEXT NOT NULL DEFAULT '',
	error              TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, number);
