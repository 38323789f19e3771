package sealed

import (
	"context"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// transformTemplate applies f to a template's header values and secret
// preset options, bound to the template's id as an endpoint's are to its
// own (the id prefixes differ, so neither decrypts as the other).
func transformTemplate(t *herald.EndpointTemplate, f func(v, aad string) (string, error)) (*herald.EndpointTemplate, error) {
	ep, err := transform(&herald.Endpoint{ID: t.ID, RequestShape: t.RequestShape}, f)
	if err != nil {
		return nil, err
	}
	c := *t
	c.Headers, c.PresetOptions = ep.Headers, ep.PresetOptions
	return &c, nil
}

func (s *Store) openTemplate(t *herald.EndpointTemplate) error {
	c, err := transformTemplate(t, s.keys.DecryptFor)
	if err != nil {
		return err
	}
	*t = *c
	return nil
}

// EndpointTemplateCreate implements store.Store.
func (s *Store) EndpointTemplateCreate(ctx context.Context, t *herald.EndpointTemplate) error {
	c, err := transformTemplate(t, s.keys.EncryptFor)
	if err != nil {
		return err
	}
	return s.Store.EndpointTemplateCreate(ctx, c)
}

// EndpointTemplateUpdate implements store.Store.
func (s *Store) EndpointTemplateUpdate(ctx context.Context, t *herald.EndpointTemplate) error {
	c, err := transformTemplate(t, s.keys.EncryptFor)
	if err != nil {
		return err
	}
	return s.Store.EndpointTemplateUpdate(ctx, c)
}

// EndpointTemplateGet implements store.Store.
func (s *Store) EndpointTemplateGet(ctx context.Context, appID, id string) (*herald.EndpointTemplate, error) {
	t, err := s.Store.EndpointTemplateGet(ctx, appID, id)
	if err != nil {
		return nil, err
	}
	return t, s.openTemplate(t)
}

// EndpointTemplateList implements store.Store.
func (s *Store) EndpointTemplateList(ctx context.Context, appID string, p store.ListParams) ([]*herald.EndpointTemplate, error) {
	ts, err := s.Store.EndpointTemplateList(ctx, appID, p)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if err := s.openTemplate(t); err != nil {
			return nil, err
		}
	}
	return ts, nil
}
