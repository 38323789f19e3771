-- Versioned event types: a type's versions after the implicit first one,
-- oldest first, as a JSON list read with the type (text, not jsonb, so
-- that schemas and converters keep the bytes they were given), and the
-- version each event was sent as (NULL: the implicit first). Both have a
-- constant default, so adding them rewrites no table.
ALTER TABLE event_types ADD COLUMN versions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE events ADD COLUMN version TEXT;
