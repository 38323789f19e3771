-- Endpoint templates: an app's reusable request definitions, which its
-- endpoints reference (their settings name the template). The request
-- shape is one JSON document, as an endpoint's is.
CREATE TABLE endpoint_templates (
	id         TEXT PRIMARY KEY,
	app_id     TEXT NOT NULL,
	name       TEXT NOT NULL,
	doc        TEXT NOT NULL DEFAULT '{}',
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX endpoint_templates_app ON endpoint_templates (app_id, id);
