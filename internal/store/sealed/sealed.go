// Package sealed keeps endpoint credentials encrypted in any store: it
// wraps a store.Store, encrypting an endpoint's signing secrets, header
// values, secret preset options and broker destination credentials
// (AES-256-GCM, see internal/secrets) before every write, and decrypting
// them after every read. Drivers never see them in clear, so neither does
// the database file, its backups, or a replica.
package sealed

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/store"
)

// Store is a store.Store whose endpoint credentials are encrypted at rest.
type Store struct {
	store.Store
	keys *secrets.Keyring
}

// New wraps st; keys encrypt with their first key and read with any.
func New(st store.Store, keys *secrets.Keyring) *Store {
	return &Store{Store: st, keys: keys}
}

// Each value is bound to its endpoint and field, so that a ciphertext
// copied to another row or field does not decrypt.
func aad(ep *herald.Endpoint, field string) string { return ep.ID + "/" + field }

// transform applies f to every credential of an endpoint copy.
func transform(ep *herald.Endpoint, f func(v, aad string) (string, error)) (*herald.Endpoint, error) {
	c := *ep
	var err error
	if c.Secret, err = f(c.Secret, aad(ep, "secret")); err != nil {
		return nil, fmt.Errorf("endpoint %s secret: %w", ep.ID, err)
	}
	if c.PreviousSecret, err = f(c.PreviousSecret, aad(ep, "previous_secret")); err != nil {
		return nil, fmt.Errorf("endpoint %s previous secret: %w", ep.ID, err)
	}
	if c.TLSClientKey, err = f(c.TLSClientKey, aad(ep, "tls_client_key")); err != nil {
		return nil, fmt.Errorf("endpoint %s TLS client key: %w", ep.ID, err)
	}
	if ep.Auth != nil {
		a := *ep.Auth
		for _, f2 := range []struct {
			v    *string
			name string
		}{{&a.Password, "password"}, {&a.Token, "token"}, {&a.ClientSecret, "client_secret"}} {
			if *f2.v, err = f(*f2.v, aad(ep, "auth/"+f2.name)); err != nil {
				return nil, fmt.Errorf("endpoint %s auth %s: %w", ep.ID, f2.name, err)
			}
		}
		c.Auth = &a
	}
	if ep.Destination != nil {
		d := ep.Destination.Clone()
		for _, f2 := range destinationSecrets(d) {
			if *f2.v, err = f(*f2.v, aad(ep, "destination/"+f2.name)); err != nil {
				return nil, fmt.Errorf("endpoint %s destination %s: %w", ep.ID, f2.name, err)
			}
		}
		c.Destination = d
	}
	if len(ep.Headers) > 0 {
		c.Headers = maps.Clone(ep.Headers)
		for k, v := range c.Headers {
			if c.Headers[k], err = f(v, aad(ep, "headers/"+k)); err != nil {
				return nil, fmt.Errorf("endpoint %s header %s: %w", ep.ID, k, err)
			}
		}
	}
	if len(ep.PresetOptions) > 0 {
		c.PresetOptions = maps.Clone(ep.PresetOptions)
		for k, v := range c.PresetOptions {
			if herald.SecretOption(k) {
				if c.PresetOptions[k], err = f(v, aad(ep, "preset_options/"+k)); err != nil {
					return nil, fmt.Errorf("endpoint %s preset option %s: %w", ep.ID, k, err)
				}
			}
		}
	}
	return &c, nil
}

// destinationSecrets are a broker destination's credentials. The whole URL
// is sealed, since it may carry a password.
func destinationSecrets(d *herald.Destination) []struct {
	v    *string
	name string
} {
	return []struct {
		v    *string
		name string
	}{{&d.URL, "url"}, {&d.Password, "password"}, {&d.CredentialsJSON, "credentials_json"}, {&d.SecretAccessKey, "secret_access_key"}}
}

func (s *Store) seal(ep *herald.Endpoint) (*herald.Endpoint, error) {
	return transform(ep, s.keys.EncryptFor)
}

// open decrypts in place: the endpoint came from the driver, not from the
// caller. Values already in clear pass through, so an endpoint shared by
// several results may be opened twice.
func (s *Store) open(ep *herald.Endpoint) error {
	if ep == nil {
		return nil
	}
	c, err := transform(ep, s.keys.DecryptFor)
	if err != nil {
		return err
	}
	*ep = *c
	return nil
}

func (s *Store) openJobs(jobs []*store.Job) error {
	for _, j := range jobs {
		if err := s.open(j.Endpoint); err != nil {
			return err
		}
	}
	return nil
}

// EndpointCreate implements store.Store.
func (s *Store) EndpointCreate(ctx context.Context, ep *herald.Endpoint) error {
	c, err := s.seal(ep)
	if err != nil {
		return err
	}
	return s.Store.EndpointCreate(ctx, c)
}

// EndpointUpdate implements store.Store.
func (s *Store) EndpointUpdate(ctx context.Context, ep *herald.Endpoint) error {
	c, err := s.seal(ep)
	if err != nil {
		return err
	}
	return s.Store.EndpointUpdate(ctx, c)
}

// EndpointGet implements store.Store.
func (s *Store) EndpointGet(ctx context.Context, appID, id string) (*herald.Endpoint, error) {
	ep, err := s.Store.EndpointGet(ctx, appID, id)
	if err != nil {
		return nil, err
	}
	return ep, s.open(ep)
}

// EndpointList implements store.Store.
func (s *Store) EndpointList(ctx context.Context, appID string, p store.ListParams) ([]*herald.Endpoint, error) {
	eps, err := s.Store.EndpointList(ctx, appID, p)
	if err != nil {
		return nil, err
	}
	for _, ep := range eps {
		if err := s.open(ep); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

// EndpointDisable implements store.Store.
func (s *Store) EndpointDisable(ctx context.Context, appID, id, reason string, now time.Time) (*herald.Endpoint, error) {
	ep, err := s.Store.EndpointDisable(ctx, appID, id, reason, now)
	if err != nil {
		return nil, err
	}
	return ep, s.open(ep)
}

// EndpointsTrackHealth implements store.Store.
func (s *Store) EndpointsTrackHealth(ctx context.Context, p store.HealthParams) ([]*herald.Endpoint, error) {
	eps, err := s.Store.EndpointsTrackHealth(ctx, p)
	if err != nil {
		return nil, err
	}
	for _, ep := range eps {
		if err := s.open(ep); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

// EventsEnqueue implements store.Store. Route sees the endpoints as
// stored (it reads only subscriptions and conditions); the jobs returned
// carry them decrypted.
func (s *Store) EventsEnqueue(ctx context.Context, p store.EnqueueParams) ([]store.EnqueueResult, error) {
	res, err := s.Store.EventsEnqueue(ctx, p)
	if err != nil {
		return nil, err
	}
	for _, r := range res {
		if err := s.openJobs(r.Jobs); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// DeliveriesClaim implements store.Store.
func (s *Store) DeliveriesClaim(ctx context.Context, p store.ClaimParams) ([]*store.Job, error) {
	jobs, err := s.Store.DeliveriesClaim(ctx, p)
	if err != nil {
		return nil, err
	}
	return jobs, s.openJobs(jobs)
}

// DeliveriesPull implements store.Store.
func (s *Store) DeliveriesPull(ctx context.Context, p store.PullParams) ([]*store.Job, error) {
	jobs, err := s.Store.DeliveriesPull(ctx, p)
	if err != nil {
		return nil, err
	}
	return jobs, s.openJobs(jobs)
}

// DeliveryJob implements store.Store.
func (s *Store) DeliveryJob(ctx context.Context, appID, id string) (*store.Job, error) {
	j, err := s.Store.DeliveryJob(ctx, appID, id)
	if err != nil {
		return nil, err
	}
	return j, s.open(j.Endpoint)
}

// Reencrypt rewrites every endpoint whose credentials are in clear or
// under a key other than the current one; it returns how many it
// rewrote. Run it after putting a new key first in the keyring, then drop
// the old key.
func (s *Store) Reencrypt(ctx context.Context) (int, error) {
	n := 0
	ap := store.ListParams{Limit: store.MaxListLimit}
	for {
		apps, err := s.Store.AppList(ctx, ap)
		if err != nil {
			return n, err
		}
		for _, a := range apps {
			ep := store.ListParams{Limit: store.MaxListLimit}
			for {
				eps, err := s.Store.EndpointList(ctx, a.ID, ep)
				if err != nil {
					return n, err
				}
				for _, e := range eps {
					if !s.stale(e) {
						continue
					}
					if err := s.open(e); err != nil {
						return n, err
					}
					if err := s.EndpointUpdate(ctx, e); err != nil {
						return n, err
					}
					n++
				}
				if len(eps) < ep.Limit {
					break
				}
				ep.Cursor = eps[len(eps)-1].ID
			}
		}
		if len(apps) < ap.Limit {
			return n, nil
		}
		ap.Cursor = apps[len(apps)-1].ID
	}
}

// stale reports whether a stored endpoint has a credential to rewrite.
func (s *Store) stale(ep *herald.Endpoint) bool {
	check := func(v string) bool { return v != "" && s.keys.NeedsRotation(v) }
	if check(ep.Secret) || check(ep.PreviousSecret) || check(ep.TLSClientKey) {
		return true
	}
	if a := ep.Auth; a != nil && (check(a.Password) || check(a.Token) || check(a.ClientSecret)) {
		return true
	}
	if ep.Destination != nil {
		for _, f := range destinationSecrets(ep.Destination) {
			if check(*f.v) {
				return true
			}
		}
	}
	for _, v := range ep.Headers {
		if check(v) {
			return true
		}
	}
	for k, v := range ep.PresetOptions {
		if herald.SecretOption(k) && check(v) {
			return true
		}
	}
	return false
}

// TokenGet implements store.Store: access tokens are secrets too.
func (s *Store) TokenGet(ctx context.Context, key string) (string, time.Time, error) {
	tok, exp, err := s.Store.TokenGet(ctx, key)
	if err != nil {
		return "", time.Time{}, err
	}
	tok, err = s.keys.DecryptFor(tok, "oauth_token/"+key)
	return tok, exp, err
}

// TokenPut implements store.Store.
func (s *Store) TokenPut(ctx context.Context, key, token string, expires time.Time) error {
	c, err := s.keys.EncryptFor(token, "oauth_token/"+key)
	if err != nil {
		return err
	}
	return s.Store.TokenPut(ctx, key, c, expires)
}
