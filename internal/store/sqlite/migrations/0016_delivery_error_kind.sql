-- A delivery keeps the error kind of the attempt its last_error comes
-- from, so that it shows, and lists filter, whether it failed because of
-- its endpoint's definition (render, transform) or its destination. The
-- existing rows take the kind of their latest attempt when that attempt's
-- error is their last_error ("endpoint deleted" and "payload expired" are
-- no attempt's, and keep none).
ALTER TABLE deliveries ADD COLUMN last_error_kind TEXT NOT NULL DEFAULT '';
UPDATE deliveries SET last_error_kind = COALESCE((
		SELECT CASE WHEN a.error = deliveries.last_error THEN a.error_kind ELSE '' END
		FROM attempts a WHERE a.delivery_id = deliveries.id
		ORDER BY a.number DESC, a.id DESC LIMIT 1), '')
	WHERE last_error != '';
