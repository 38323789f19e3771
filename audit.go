package herald

import "time"

// AuditEntry records one change of configuration: who, when, what.
type AuditEntry struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
	// KeyID is the API key that made the change ("admin" for the admin
	// token, "herald" for Herald's own changes).
	KeyID string `json:"key_id"`
	// AppID is the app concerned; empty for installation-wide changes.
	AppID  string `json:"app_id,omitempty"`
	Action string `json:"action"`
	Target string `json:"target"`
	// Changes holds the fields set (secrets masked), as JSON.
	Changes RawJSON `json:"changes"`
}
