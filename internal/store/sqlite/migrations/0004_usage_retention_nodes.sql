-- Usage per month, retention and the nodes of a cluster.

-- Deliveries created per app and calendar month (UTC, 'YYYY-MM'), counted
-- by EventsEnqueue and DeliveriesCreate in their own transactions, so a
-- quota check reads one row instead of counting the month's deliveries.
-- Without rowid: the row is its key and one counter.
CREATE TABLE usage (
	app_id     TEXT NOT NULL,
	month      TEXT NOT NULL,
	deliveries INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (app_id, month)
) WITHOUT ROWID;

-- Retain walks the oldest events first and stops after a batch: without
-- this index each call would scan the whole events table.
CREATE INDEX events_created ON events (created_at);

-- Retain removes an event's deliveries and their attempts; deliveries are
-- found through deliveries_event, attempts through attempts_delivery.

-- Heartbeats of the nodes sharing the file. SQLite has one node, but the
-- call is part of the contract and cheap: one row per node name, pruned by
-- NodeHeartbeat.
CREATE TABLE nodes (
	id      TEXT PRIMARY KEY,
	seen_at INTEGER NOT NULL
) WITHOUT ROWID;
