-- AttemptsFollow reads an app's attempts in the order they were written,
-- after a cursor: the attempt keeps its app (rather than joining every
-- new attempt to its delivery to find it) and the status it gave its
-- delivery, with the next attempt time it set (the delivery's own move on
-- with later attempts). The
-- cursor is the rowid: the single writer gives each new row the largest
-- rowid so far plus one, so rows appear in rowid order, and the index on
-- app_id holds the rowid after it. Attempts written before this migration
-- have no app and are never followed; a follower starts from now anyway.
ALTER TABLE attempts ADD COLUMN app_id TEXT;
ALTER TABLE attempts ADD COLUMN delivery_status TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN next_attempt_at INTEGER;
CREATE INDEX attempts_app ON attempts (app_id);
