-- API keys and the audit log.

-- Credentials for the API besides the admin token. The key itself is never
-- stored: a request's key is hashed and looked up by hash, so the hash is
-- unique (and its index serves the lookup). app_id is NULL for a key of
-- the whole installation (scope 'admin'); AppDelete removes an app's keys.
-- expires_at is NULL for a key that does not expire.
CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL DEFAULT '',
	scope      TEXT NOT NULL,
	app_id     TEXT,
	read_only  INTEGER NOT NULL DEFAULT 0,
	expires_at INTEGER,
	prefix     TEXT NOT NULL DEFAULT '',
	hash       TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);
-- An app's keys, newest first, and AppDelete.
CREATE INDEX api_keys_app ON api_keys (app_id, id);

-- Changes of configuration: who (key_id), when, what. app_id is NULL for
-- installation-wide changes. AppDelete keeps an app's entries: the history
-- of a deleted tenant stays readable by the installation's admin. changes
-- is the JSON document of the fields set, NULL when there is none.
CREATE TABLE audit_log (
	id      TEXT PRIMARY KEY,
	at      INTEGER NOT NULL,
	key_id  TEXT NOT NULL,
	app_id  TEXT,
	action  TEXT NOT NULL,
	target  TEXT NOT NULL DEFAULT '',
	changes TEXT
);
-- An app's entries, newest first.
CREATE INDEX audit_log_app ON audit_log (app_id, id);
