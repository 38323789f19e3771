-- Herald's schema for PostgreSQL.
--
-- Times are TIMESTAMPTZ: microsecond precision, the precision the store
-- promises. Payloads, schemas, samples and bodies are BYTEA, never JSONB:
-- signatures are computed over the exact bytes, which JSONB would
-- normalise. Settings, shapes, subscriptions, routing and header maps are
-- JSON documents kept as TEXT, as the SQLite driver keeps them, so that new
-- settings need no migration.
--
-- Ids and names are COLLATE "C": they compare byte by byte, so that lists
-- page in the same order as in the SQLite driver (ULIDs sort by creation)
-- whatever the database's collation, and their indexes compare fast.
--
-- There are no foreign keys: AppDelete removes an app's rows explicitly in
-- one transaction, and a batch of attempt results must not fail because
-- one delivery vanished meanwhile (recording skips it).

CREATE TABLE apps (
	id         TEXT COLLATE "C" PRIMARY KEY,
	uid        TEXT UNIQUE, -- NULL when the app has none
	name       TEXT COLLATE "C" NOT NULL,
	settings   TEXT NOT NULL DEFAULT '{}',
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE event_types (
	name        TEXT COLLATE "C" PRIMARY KEY,
	description TEXT NOT NULL DEFAULT '',
	schema      BYTEA,
	sample      BYTEA,
	group_name  TEXT NOT NULL DEFAULT '',
	deprecated  BOOLEAN NOT NULL DEFAULT false,
	created_at  TIMESTAMPTZ NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE endpoints (
	id            TEXT COLLATE "C" PRIMARY KEY,
	app_id        TEXT COLLATE "C" NOT NULL,
	url           TEXT NOT NULL,
	description   TEXT NOT NULL DEFAULT '',
	event_types   TEXT NOT NULL DEFAULT '[]', -- JSON array of names
	enabled       BOOLEAN NOT NULL,
	secret        TEXT NOT NULL,
	timeout_ms    INTEGER NOT NULL DEFAULT 0,
	shape         TEXT NOT NULL DEFAULT '{}', -- herald.RequestShape
	settings      TEXT NOT NULL DEFAULT '{}', -- herald.EndpointSettings
	-- Health, kept by EndpointsTrackHealth: since when every final outcome
	-- has been a failure, and how many failures since.
	failing_since TIMESTAMPTZ,
	failed_count  INTEGER NOT NULL DEFAULT 0,
	created_at    TIMESTAMPTZ NOT NULL,
	updated_at    TIMESTAMPTZ NOT NULL,
	deleted_at    TIMESTAMPTZ -- set when deleted: the row stays for the history
);
CREATE INDEX endpoints_app ON endpoints (app_id, id);

CREATE TABLE events (
	id              TEXT COLLATE "C" PRIMARY KEY,
	app_id          TEXT COLLATE "C" NOT NULL,
	event_type      TEXT NOT NULL,
	payload         BYTEA,
	idempotency_key TEXT, -- NULL when none
	routing         TEXT, -- herald.Routing as JSON, NULL when none
	created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_app ON events (app_id, id);
CREATE INDEX events_idempotency ON events (app_id, idempotency_key, created_at)
	WHERE idempotency_key IS NOT NULL;
-- Retain walks the oldest events first.
CREATE INDEX events_created ON events (created_at);

CREATE TABLE deliveries (
	id              TEXT COLLATE "C" PRIMARY KEY,
	app_id          TEXT COLLATE "C" NOT NULL,
	event_id        TEXT COLLATE "C" NOT NULL,
	endpoint_id     TEXT COLLATE "C" NOT NULL,
	event_type      TEXT NOT NULL,
	status          TEXT NOT NULL,
	attempt_count   INTEGER NOT NULL DEFAULT 0,
	next_attempt_at TIMESTAMPTZ, -- NULL unless pending
	last_error      TEXT NOT NULL DEFAULT '',
	lease_owner     TEXT,
	lease_until     TIMESTAMPTZ,
	test            BOOLEAN NOT NULL DEFAULT false,
	created_at      TIMESTAMPTZ NOT NULL,
	updated_at      TIMESTAMPTZ NOT NULL
);
-- Claims walk the pending deliveries in due order, ties broken by id, and
-- stop after a page: the indexes are partial so that the (much larger)
-- finished history is never stepped over. Leased rows stay in them (a
-- lease that ran out makes its row claimable again); they are few, the
-- deliveries in flight.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id)
	WHERE status = 'pending';
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at, id)
	WHERE status = 'pending';
-- Leased deliveries by owner, to extend or release them.
CREATE INDEX deliveries_lease_owner ON deliveries (lease_owner)
	WHERE lease_owner IS NOT NULL;
-- Lists, newest first: of an app, of an event, of an endpoint.
CREATE INDEX deliveries_app ON deliveries (app_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id, id);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);

-- Attempts are the largest table and the first to age out: partitioned by
-- month of created_at, retention drops whole partitions instead of
-- deleting (and vacuuming) millions of rows. The primary key must hold
-- the partition key; attempt ids are ULIDs, unique by construction.
-- Monthly partitions are created ahead by the driver; the DEFAULT
-- partition takes whatever falls outside them, so an insert never fails.
CREATE TABLE attempts (
	id                 TEXT COLLATE "C" NOT NULL,
	delivery_id        TEXT COLLATE "C" NOT NULL,
	number             INTEGER NOT NULL,
	trigger            TEXT NOT NULL DEFAULT '',
	created_at         TIMESTAMPTZ NOT NULL,
	request_method     TEXT NOT NULL DEFAULT '',
	request_url        TEXT NOT NULL DEFAULT '',
	request_headers    TEXT, -- JSON object
	request_body       BYTEA,
	response_status    INTEGER, -- NULL when no response came back
	response_headers   TEXT, -- JSON object, NULL when no response
	response_body      BYTEA,
	response_truncated BOOLEAN NOT NULL DEFAULT false,
	latency_us         BIGINT NOT NULL DEFAULT 0,
	error_kind         TEXT NOT NULL DEFAULT '',
	error              TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX attempts_delivery ON attempts (delivery_id, number);
CREATE TABLE attempts_default PARTITION OF attempts DEFAULT;

-- Progress of background operations.
CREATE TABLE bulk_jobs (
	id         TEXT COLLATE "C" PRIMARY KEY,
	app_id     TEXT COLLATE "C" NOT NULL,
	kind       TEXT NOT NULL,
	state      TEXT NOT NULL,
	total      INTEGER NOT NULL DEFAULT 0,
	done       INTEGER NOT NULL DEFAULT 0,
	error      TEXT NOT NULL DEFAULT '',
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX bulk_jobs_app ON bulk_jobs (app_id);
CREATE INDEX bulk_jobs_updated ON bulk_jobs (updated_at);

-- Deliveries created per app and calendar month (UTC, 'YYYY-MM'), counted
-- in the transactions that create them: a quota check reads one row.
CREATE TABLE usage (
	app_id     TEXT COLLATE "C" NOT NULL,
	month      TEXT NOT NULL,
	deliveries BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (app_id, month)
);

-- Heartbeats of the nodes sharing the database.
CREATE TABLE nodes (
	id      TEXT COLLATE "C" PRIMARY KEY,
	seen_at TIMESTAMPTZ NOT NULL
);
