package herald

import "time"

// APIKey is a credential for the API besides the admin token. The key
// itself is shown once, when created; the store keeps only its hash.
type APIKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Scope is "admin" (everything), "app" (one app's resources) or
	// "portal" (a customer's portal session of one app).
	Scope string `json:"scope"`
	AppID string `json:"app_id,omitempty"`
	// ParentID is the key that minted this one (a portal session minted
	// with an API key): the session lives no longer than that key, and
	// deleting that key deletes it. Empty when minted with the admin token.
	ParentID string `json:"parent_id,omitempty"`
	// ReadOnly keys can read but not change.
	ReadOnly bool `json:"read_only"`
	// Role is a portal session's: "viewer" (read-only), "developer" or
	// "admin", as the product chose when it minted the link; empty for
	// other keys.
	Role      string     `json:"role,omitempty"`
	ExpiresAt *time.Time `json:"expires_at"`
	// Prefix is the key's first characters, so a person can tell keys
	// apart without the key.
	Prefix    string    `json:"prefix"`
	Hash      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}
