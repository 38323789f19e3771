-- Ordering keys: an event may carry one, and each delivery keeps the key
-- it is ordered by (the event's, or its endpoint's template rendered at
-- enqueue). A claim takes a keyed delivery only when no earlier delivery
-- (by id, which sorts by acceptance) of the same endpoint and key is still
-- pending, or failed and not skipped on an endpoint that pauses its keys:
-- the index finds those earlier rows in one probe. Unkeyed rows and the
-- succeeded history stay out of it.
ALTER TABLE events ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_ordering ON deliveries (endpoint_id, ordering_key, id)
	WHERE ordering_key IS NOT NULL AND status IN ('pending', 'failed');
