-- A delivery keeps the error kind of the attempt its last_error comes
-- from, so that it shows, and lists filter, whether it failed because of
-- its endpoint's definition (render, transform) or its destination. The
-- column has a constant default, so that adding it rewrites no table; the
-- existing rows with an error take the kind of their latest attempt when
-- that attempt's error is their last_error ("endpoint deleted" and
-- "payload expired" are no attempt's, and keep none).
ALTER TABLE deliveries ADD COLUMN last_error_kind TEXT NOT NULL DEFAULT '';
UPDATE deliveries d SET last_error_kind = COALESCE((
		SELECT CASE WHEN a.error = d.last_error THEN a.error_kind ELSE '' END
		FROM attempts a WHERE a.delivery_id = d.id
		ORDER BY a.number DESC, a.id DESC LIMIT 1), '')
	WHERE d.last_error != '';
