-- Ordering keys: an event may carry one, and each delivery keeps the key
-- it is ordered by (the event's, or its endpoint's template rendered at
-- enqueue) and its place in acceptance order, ordering_seq, from a
-- sequence: ids are ULIDs, whose order two nodes accepting events of one
-- key in the same millisecond do not keep. A claim takes a keyed delivery
-- only when no earlier delivery of the same endpoint and key is still
-- pending, or failed and not skipped on an endpoint that pauses its keys:
-- the index finds those earlier rows in one probe. Unkeyed rows and the
-- succeeded history stay out of it. The columns are nullable or have a
-- constant default, so that adding them rewrites no table.
ALTER TABLE events ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT COLLATE "C";
ALTER TABLE deliveries ADD COLUMN ordering_seq BIGINT;
ALTER TABLE deliveries ADD COLUMN skipped BOOLEAN NOT NULL DEFAULT false;
CREATE SEQUENCE deliveries_ordering_seq;
CREATE INDEX deliveries_ordering ON deliveries (endpoint_id, ordering_key, ordering_seq)
	WHERE ordering_key IS NOT NULL AND status IN ('pending', 'failed');
