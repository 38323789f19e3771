package herald

import "time"

// EventType is one entry of the product's event catalog, shared by all apps.
// Names are case-sensitive.
type EventType struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Schema      RawJSON `json:"schema"`
	Sample      RawJSON `json:"sample"`
	// Group is a category of the catalog (Pendo's event categories);
	// endpoints may subscribe to a whole group as "group:<name>".
	Group string `json:"group"`
	// Deprecated event types are still accepted, and flagged as such.
	Deprecated bool      `json:"deprecated"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}
