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
	Versions []EventTypeVersion `json:"versions,omitempty"`
	// LatestVersion is the newest version ("" when unversioned); set by
	// the API.
	Latest string `json:"latest_version"`
	// PinnedEndpoints counts the endpoints pinned to each version (""
	// for the first), of the caller's apps; set by the API on a read of
	// one type, not stored.
	PinnedEndpoints map[string]int `json:"pinned_endpoints,omitempty"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
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

// PinAll is the key of Endpoint.EventTypeVersions that pins every type.
const PinAll = "*"

// PinnedVersion returns the version of event type et the endpoint is
// pinned to, and false when it is not pinned to one. A pin for the type
// wins over the pin for all types ("*"); a "*" pin names a version the
// type may not have: a date then pins the type's newest version dated on
// or before it (the first, "", when none is), and a token leaves the type
// unpinned.
func PinnedVersion(ep *Endpoint, et *EventType) (string, bool) {
	if v, ok := ep.EventTypeVersions[et.Name]; ok {
		return v, true
	}
	v, ok := ep.EventTypeVersions[PinAll]
	if !ok {
		return "", false
	}
	if _, ok := et.VersionIndex(v); ok {
		return v, true
	}
	if !isDate(v) {
		return "", false
	}
	pinned := ""
	for _, tv := range et.Versions {
		if isDate(tv.Version) && tv.Version <= v {
			pinned = tv.Version
		}
	}
	return pinned, true
}

// isDate reports whether a version name is a date, YYYY-MM-DD.
func isDate(v string) bool {
	if len(v) != 10 || v[4] != '-' || v[7] != '-' {
		return false
	}
	_, err := time.Parse(time.DateOnly, v)
	return err == nil
}
