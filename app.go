package herald

import "time"

// App is one customer (tenant) of the product that sends events through
// Herald. Endpoints, events and deliveries all belong to one app.
type App struct {
	ID string `json:"id"`
	// UID is the product's own identifier for the app; API paths accept it
	// in place of ID so the product need not store Herald's ids.
	UID       string    `json:"uid"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// EventType is one entry of the product's event catalog, shared by all apps.
// Names are case-sensitive.
type EventType struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Schema      RawJSON   `json:"schema"`
	Sample      RawJSON   `json:"sample"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}
