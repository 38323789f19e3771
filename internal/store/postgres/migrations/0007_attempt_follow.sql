-- AttemptsFollow reads an app's attempts after a cursor, on any node,
-- without missing one committed late. Sequence values or times are taken
-- before commit, so a row may appear behind a cursor already handed out;
-- the id of the transaction that wrote the row is ordered the same way,
-- but only rows of transactions older than the oldest one still running
-- (pg_snapshot_xmin) are read, and no new row can appear among those.
-- So the cursor is (xid, id), and a follower sees rows in that order,
-- each once. The attempt keeps its app (rather than joining every new
-- attempt to its delivery to find it), the status it gave its delivery
-- and the next attempt time it set (the delivery's own move on). The defaults are set after the columns are added, so that
-- existing rows are not rewritten: they keep no app and are never
-- followed; a follower starts from now anyway.
ALTER TABLE attempts ADD COLUMN app_id TEXT COLLATE "C",
	ADD COLUMN delivery_status TEXT NOT NULL DEFAULT '',
	ADD COLUMN next_attempt_at TIMESTAMPTZ,
	ADD COLUMN xid xid8;
ALTER TABLE attempts ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX attempts_app ON attempts (app_id, xid, id);
