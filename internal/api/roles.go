package api

import (
	"net/http"

	"github.com/heraldhq/herald"
)

// Portal session roles, as the product picks them when it mints a link:
// what its customer may do in the portal.
const (
	// roleViewer reads only (read_only: true).
	roleViewer = "viewer"
	// roleDeveloper manages endpoints, sends tests and resends, and
	// reads the signing secret (to write the receiver's verification),
	// but never changes it nor sees other credentials.
	roleDeveloper = "developer"
	// roleAdmin does everything a portal session can.
	roleAdmin = "admin"
)

// roleRank orders roles from the narrowest.
var roleRank = map[string]int{roleViewer: 0, roleDeveloper: 1, roleAdmin: 2}

// portalKeyName names every portal session's key; its role is a field of
// its own.
const portalKeyName = "portal session"

// portalRoleOf is the role of a portal session's key. A key without one
// (which the stores' migrations leave none of) is read as before roles
// were: viewer when read-only, admin otherwise; a read-only key is never
// wider than viewer whatever its role says.
func portalRoleOf(k *herald.APIKey) string {
	if k.ReadOnly {
		return roleViewer
	}
	if _, ok := roleRank[k.Role]; ok {
		return k.Role
	}
	return roleAdmin
}

// callerRole is the widest role a session minted by p may have: a
// session's own role, a read-only key's viewer, admin for anyone else.
func callerRole(p *principal) string {
	switch {
	case p.portal:
		return p.role
	case p.readOnly:
		return roleViewer
	}
	return roleAdmin
}

// noSecrets says whether the caller may not see signing secrets, nor
// anything signed with them: read-only keys and sessions.
func noSecrets(r *http.Request) bool {
	return principalOf(r).readOnly
}

// errRole refuses to a portal session what its role does not allow.
func errRole(r *http.Request, what string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Field: "role",
		Message: "a portal session with role " + principalOf(r).role + " cannot " + what + "; that needs role admin"}
}

// secretsRefused refuses a developer session what changes signing
// secrets or shows other credentials (nil for anyone else).
func secretsRefused(r *http.Request, what string) *Error {
	if p := principalOf(r); p.portal && p.role == roleDeveloper {
		return errRole(r, what)
	}
	return nil
}
