package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/signing"
)

// scheme is the endpoint's signature scheme, v1 when unset.
func scheme(ep *herald.Endpoint) string {
	if ep.SignatureScheme == "" {
		return "v1"
	}
	return ep.SignatureScheme
}

// checkSecret refuses a secret of the wrong kind for the scheme.
func checkSecret(scheme, secret string) *Error {
	var err error
	switch {
	case scheme == "v1a":
		_, err = signing.ParseSecretKey(secret)
	case strings.HasPrefix(secret, signing.SecretPrefix):
		_, err = signing.ParseSecret(secret)
	case strings.HasPrefix(secret, signing.SecretKeyPrefix):
		err = fmt.Errorf("a whsk_ key is for signature_scheme v1a")
	case strings.HasPrefix(secret, signing.PublicKeyPrefix):
		err = fmt.Errorf("a whpk_ public key verifies, it cannot sign; give the whsk_ key with signature_scheme v1a")
	default:
		// The product's own secret, used as the raw HMAC key.
		_, err = signing.NewRawSigner(secret)
	}
	if err != nil {
		return errInvalid("secret", "%s", err.Error())
	}
	return nil
}

// newSecret makes a secret of the scheme's kind: a whsec_ secret, or a
// whsk_ Ed25519 key.
func newSecret(scheme string) (string, error) {
	if scheme == "v1a" {
		sk, _, err := signing.GenerateKeyPair()
		return sk, err
	}
	return signing.GenerateSecret()
}

// getEndpointSecret answers GET .../endpoints/{id}/secret. A read-only
// caller gets 403: whoever holds the secret (or a v1a private key) can
// sign requests that receivers take for Herald's.
func (s *Server) getEndpointSecret(w http.ResponseWriter, r *http.Request) *Error {
	if principalOf(r).readOnly {
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden,
			Message: "a read-only key or session cannot read signing secrets: whoever holds one can sign webhooks"}
	}
	ep, e := s.endpoint(r)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": ep.Secret})
	return nil
}

// rotateSecret answers POST .../endpoints/{id}/secret/rotate: a new
// secret (given or generated); the old one keeps signing too for the
// grace period (default 24 h).
func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request) *Error {
	ep, a, e := s.endpointOfApp(r)
	if e != nil {
		return e
	}
	var in struct {
		Secret      *string `json:"secret"`
		GracePeriod *string `json:"grace_period"`
	}
	if r.ContentLength != 0 {
		if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
			return e
		}
	}
	grace := 24 * time.Hour
	if in.GracePeriod != nil {
		d, err := time.ParseDuration(*in.GracePeriod)
		if err != nil || d < 0 || d > 30*24*time.Hour {
			return errInvalid("grace_period", "grace_period must be a duration such as 24h or 30m, from 0 to 720h")
		}
		grace = d
	}
	secret := ""
	if in.Secret != nil {
		if e := checkSecret(scheme(ep), *in.Secret); e != nil {
			return e
		}
		if *in.Secret == ep.Secret {
			return errInvalid("secret", "the new secret must differ from the current one")
		}
		secret = *in.Secret
	} else {
		var err error
		if secret, err = newSecret(scheme(ep)); err != nil {
			return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "could not generate a secret"}
		}
	}
	now := s.o.Now().UTC()
	ep.PreviousSecret, ep.PreviousSecretExpiresAt = "", nil
	if grace > 0 {
		until := now.Add(grace)
		ep.PreviousSecret, ep.PreviousSecretExpiresAt = ep.Secret, &until
	}
	ep.Secret, ep.UpdatedAt = secret, now
	if err := s.st.EndpointUpdate(r.Context(), ep); err != nil {
		return storeError(err, "endpoint")
	}
	s.eng.EndpointChanged(ep)
	s.keysChanged()
	s.audit(r, a.ID, "endpoint.secret.rotate", ep.ID, map[string]any{"grace_period": grace.String()})
	out := map[string]any{"secret": secret, "previous_secret_expires_at": ep.PreviousSecretExpiresAt}
	if pub, err := signing.PublicKeyOf(secret); err == nil {
		out["public_key"] = pub
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getPublicKey answers GET .../endpoints/{id}/public-key for v1a
// endpoints, with the previous key during a rotation's grace period.
func (s *Server) getPublicKey(w http.ResponseWriter, r *http.Request) *Error {
	ep, e := s.endpoint(r)
	if e != nil {
		return e
	}
	if scheme(ep) != "v1a" {
		return errInvalid("signature_scheme", "this endpoint signs with v1 (HMAC, a shared secret): it has no public key; set signature_scheme to v1a for Ed25519")
	}
	pub, err := signing.PublicKeyOf(ep.Secret)
	if err != nil {
		return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "the endpoint's key cannot be read"}
	}
	out := map[string]any{"public_key": pub}
	if prev := previousPublicKey(ep, s.o.Now()); prev != "" {
		out["previous_public_key"], out["previous_expires_at"] = prev, ep.PreviousSecretExpiresAt
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func previousPublicKey(ep *herald.Endpoint, now time.Time) string {
	if ep.PreviousSecret == "" || ep.PreviousSecretExpiresAt == nil || !now.Before(*ep.PreviousSecretExpiresAt) {
		return ""
	}
	pub, _ := signing.PublicKeyOf(ep.PreviousSecret)
	return pub
}

// jwksTTL is how long a node serves a JWKS document it computed: changes
// made through this node reset it at once (keysChanged), other nodes'
// changes show within this time.
const jwksTTL = 10 * time.Second

// jwk is one Ed25519 public key of a JWKS document.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// jwks answers GET /.well-known/herald/jwks/{app}: the public keys of the
// app's v1a endpoints (and previous keys in a grace period), so receivers
// fetch verification keys instead of copying them. No token: public keys
// are public. Anyone may call it, so it is rate-limited per client
// address and per {app}, served from a cache (computing it decrypts the
// app's endpoints), and an unknown app answers exactly as an app without
// v1a endpoints does: 200 with no keys, telling nothing of which apps
// exist.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) *Error {
	ref := r.PathValue("app")
	if wait, ok := s.jwksAddr.allow(clientAddr(r)); !ok {
		return rateLimited(w, wait, "too many JWKS requests from this address")
	}
	if wait, ok := s.jwksApp.allow(ref); !ok {
		return rateLimited(w, wait, "too many JWKS requests for this app")
	}
	keys, ok := s.jwksDocs.Get(ref)
	if !ok {
		var e *Error
		if keys, e = s.jwksKeys(r); e != nil {
			return e
		}
		s.jwksDocs.Put(ref, keys)
	}
	w.Header().Set("Cache-Control", "max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
	return nil
}

// jwksKeys reads the key set of the {app}: empty when there is no such
// app.
func (s *Server) jwksKeys(r *http.Request) ([]jwk, *Error) {
	keys := []jwk{}
	a, e := s.app(r)
	if e != nil {
		if e.Code == CodeNotFound {
			return keys, nil
		}
		return nil, e
	}
	add := func(kid, pub string) {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(pub, signing.PublicKeyPrefix))
		if err == nil {
			keys = append(keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(raw), Kid: kid, Use: "sig", Alg: "EdDSA"})
		}
	}
	now := s.o.Now()
	err := s.eachEndpoint(r, a.ID, func(ep *herald.Endpoint) {
		if scheme(ep) != "v1a" {
			return
		}
		if pub, err := signing.PublicKeyOf(ep.Secret); err == nil {
			add(ep.ID, pub)
		}
		if prev := previousPublicKey(ep, now); prev != "" {
			add(ep.ID+".previous", prev)
		}
	})
	if err != nil {
		return nil, storeError(err, "endpoint")
	}
	return keys, nil
}

// keysChanged forgets the JWKS documents after a change that may add,
// replace or remove an endpoint's key, or move an app's uid.
func (s *Server) keysChanged() { s.jwksDocs.Reset() }
