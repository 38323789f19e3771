package herald

import "time"

// APIKey is a credential for the API besides the admin token. The key
// itself is shown once, when created; the store keeps only its hash.
type APIKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Scope is "admin" (everything) or "app" (one app's resources).
	Scope string `json:"scope"`
	AppID string `json:"app_id,omitempty"`
	// ReadOnly keys can read but not change.
	ReadOnly  bool       `json:"read_only"`
	ExpiresAt *time.Time `json:"expires_at"`
	// Prefix is the key's first characters, so a person can tell keys
	// apart without the key.
	Prefix    string    `json:"prefix"`
	Hash      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}
