-- Versioned event types: a type's versions after the implicit first one,
-- oldest first, as a JSON list (few, read with the type), and the version
-- each event was sent as (NULL: the implicit first).
ALTER TABLE event_types ADD COLUMN versions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE events ADD COLUMN version TEXT;
