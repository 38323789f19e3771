-- An attempt whose request body holds its event's payload stores the body
-- without it: request_body is the rest, body_payload_at where the payload
-- stood. NULL (every row written before) means the body is stored whole.
ALTER TABLE attempts ADD COLUMN body_payload_at INTEGER;
