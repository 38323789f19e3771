-- OAuth2 access tokens of endpoints, shared by every worker. The token is
-- encrypted by the sealed store before it reaches this table.
CREATE TABLE oauth_tokens (
	key        TEXT PRIMARY KEY, -- a hash of the credential
	token      TEXT NOT NULL,
	expires_at INTEGER NOT NULL
);
