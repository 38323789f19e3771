-- API keys and the audit log.

-- Credentials for the API besides the admin token. The key itself is never
-- stored: a request's key is hashed and looked up by hash, so the hash is
-- unique (and its index serves the lookup). app_id is NULL for a key of
-- the whole installation (scope 'admin'); AppDelete removes an app's keys.
-- expires_at is NULL for a key that does not expire.
CREATE TABLE api_keys (
	id         TEXT COLLATE "C" PRIMARY KEY,
	name       TEXT NOT NULL DEFAULT '',
	scope      TEXT NOT NULL,
	app_id     TEXT COLLATE "C",
	read_only  BOOLEAN NOT NULL DEFAULT false,
	expires_at TIMESTAMPTZ,
	prefix     TEXT NOT NULL DEFAULT '',
	hash       TEXT COLLATE "C" NOT NULL UNIQUE,
	created_at TIMESTAMPTZ NOT NULL
);
-- An app's keys, newest first, and AppDelete.
CREATE INDEX api_keys_app ON api_keys (app_id, id);

-- Changes of configuration: who (key_id), when, what. app_id is NULL for
-- installation-wide changes. AppDelete keeps an app's entries: the history
-- of a deleted tenant stays readable by the installation's admin. changes
-- is the JSON document of the fields set, as sent (BYTEA, like payloads),
-- NULL when there is none.
CREATE TABLE audit_log (
	id      TEXT COLLATE "C" PRIMARY KEY,
	at      TIMESTAMPTZ NOT NULL,
	key_id  TEXT COLLATE "C" NOT NULL,
	app_id  TEXT COLLATE "C",
	action  TEXT NOT NULL,
	target  TEXT NOT NULL DEFAULT '',
	changes BYTEA
);
-- An app's entries, newest first.
CREATE INDEX audit_log_app ON audit_log (app_id, id);
