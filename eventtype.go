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
	Deprecated bool `json:"deprecated"`
	// Versions are the type's versions after the implicit first one,
	// oldest first.
	Versions []EventTypeVersion `json:"versions"`
	// LatestVersion is the newest version ("" when unversioned); set by
	// the API.
	Latest    string    `json:"latest_version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// EventTypeVersion is one version of an event type after the first: the
// unversioned type (its own Schema and Sample) is the implicit version "".
// Versions are kept oldest first; the last is the type's latest.
type EventTypeVersion struct {
	// Version is a date (YYYY-MM-DD) or a short token, unique per type.
	Version string  `json:"version"`
	Schema  RawJSON `json:"schema"`
	Sample  RawJSON `json:"sample"`
	// Converter is JavaScript defining convert(payload), which turns a
	// payload of this version into the shape of the version before it.
	Converter string    `json:"converter"`
	CreatedAt time.Time `json:"created_at"`
	// Endpoints counts the endpoints pinned to this version; filled in
	// by the API, not stored.
	Endpoints *int `json:"endpoints,omitempty"`
}

// MaxEventTypeVersions bounds the versions of one event type: a delivery
// to an endpoint pinned to the oldest runs every converter in between.
const MaxEventTypeVersions = 20

// LatestVersion is the version events of the type are sent as by
// default: the newest, or "" when the type has none.
func (et *EventType) LatestVersion() string {
	if len(et.Versions) == 0 {
		return ""
	}
	return et.Versions[len(et.Versions)-1].Version
}

// VersionIndex returns the place of version v in Versions, -1 for the
// implicit first version "", and false when the type has no such version.
func (et *EventType) VersionIndex(v string) (int, bool) {
	if v == "" {
		return -1, true
	}
	for i := range et.Versions {
		if et.Versions[i].Version == v {
			return i, true
		}
	}
	return 0, false
}
