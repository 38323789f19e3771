-- A portal session's role (viewer, developer, admin) has a column of its
-- own; other keys keep it empty. Sessions minted before roles were are
-- viewers when read-only and admins otherwise, as they behaved.
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT '';
UPDATE api_keys SET role = CASE
	WHEN read_only THEN 'viewer'
	WHEN name = 'portal session (developer)' THEN 'developer'
	ELSE 'admin' END
WHERE scope = 'portal';
