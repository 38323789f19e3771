package delivery

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/cache"
	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/template"
)

// filterTimeout bounds one condition's evaluation on top of its cost
// limit: routing runs inside the ingest transaction.
const filterTimeout = 50 * time.Millisecond

// router decides which of an app's endpoints receive an event: by
// subscription (exact name, prefix wildcard, group) and by condition.
type router struct {
	st       Store
	groups   *cache.Cache[string]
	programs cache.Versions[programKey, *filter.Program]
}

// programKey names one version of an endpoint's condition.
type programKey struct {
	endpoint string
	updated  time.Time
	// test names the endpoint's test_filter, not its filter.
	test bool
}

func newRouter(st Store, now func() time.Time) *router {
	return &router{st: st, groups: cache.New[string](now)}
}

// group returns the catalog group of an event type ("" for none, or for
// an undeclared type).
func (rt *router) group(ctx context.Context, eventType string) string {
	if g, ok := rt.groups.Get(eventType); ok {
		return g
	}
	g := ""
	if et, err := rt.st.EventTypeGet(ctx, eventType); err == nil {
		g = et.Group
	}
	rt.groups.Put(eventType, g)
	return g
}

// program returns the endpoint's compiled condition: its test_filter
// when test, else its filter.
func (rt *router) program(ep *herald.Endpoint, test bool) (*filter.Program, error) {
	k := programKey{endpoint: ep.ID, updated: ep.UpdatedAt, test: test}
	if p, ok := rt.programs.Get(k); ok {
		return p, nil
	}
	src := ep.Filter
	if test {
		src = ep.TestFilter
	}
	p, err := filter.Compile(src)
	if err != nil {
		return nil, err
	}
	rt.programs.Put(k, p)
	return p, nil
}

// route returns the endpoints that receive ev among the app's enabled
// endpoints, and the routing record kept with the event: by subscription,
// then channels (Endpoint.ListensTo), condition, test stage condition
// and sample rate. It reads
// nothing: it runs inside the enqueue transaction, so the event type's
// group and the app come from before it.
func (rt *router) route(ev *herald.Event, group string, app *herald.App, eps []*herald.Endpoint) ([]*herald.Endpoint, *herald.Routing) {
	r := &herald.Routing{Matched: []string{}, Skipped: []herald.Skip{}}
	var out []*herald.Endpoint
	var in *filter.Input
	for _, ep := range eps {
		if !ep.Subscribes(ev.EventType, group) {
			continue
		}
		if !ep.ListensTo(ev.Channels) {
			r.Skipped = append(r.Skipped, herald.Skip{EndpointID: ep.ID, Reason: "channel"})
			continue
		}
		if ep.Filter != "" {
			if in == nil {
				in = input(ev, app)
			}
			ok, err := rt.match(ep, in, false)
			if err != nil {
				r.Skipped = append(r.Skipped, herald.Skip{EndpointID: ep.ID, Reason: "filter_error: " + err.Error()})
				continue
			}
			if !ok {
				r.Skipped = append(r.Skipped, herald.Skip{EndpointID: ep.ID, Reason: "filter"})
				continue
			}
		}
		if ep.InTest() {
			// A test-stage endpoint without its condition (saved by
			// hand in the store) receives nothing rather than everyone.
			ok, err := false, error(nil)
			if ep.TestFilter != "" {
				if in == nil {
					in = input(ev, app)
				}
				ok, err = rt.match(ep, in, true)
			}
			if err != nil {
				r.Skipped = append(r.Skipped, herald.Skip{EndpointID: ep.ID, Reason: "filter_error: test_filter: " + err.Error()})
				continue
			}
			if !ok {
				r.Skipped = append(r.Skipped, herald.Skip{EndpointID: ep.ID, Reason: "test_stage"})
				continue
			}
		}
		if !ep.Sampled(ev.ID) {
			r.Skipped = append(r.Skipped, herald.Skip{EndpointID: ep.ID, Reason: "sampled_out"})
			continue
		}
		r.Matched = append(r.Matched, ep.ID)
		out = append(out, ep)
	}
	return out, r
}

func input(ev *herald.Event, a *herald.App) *filter.Input {
	payload, _ := template.DecodePayload(ev.Payload)
	return &filter.Input{
		Payload: payload,
		Event:   filter.EventInfo{ID: ev.ID, Type: ev.EventType, Timestamp: ev.CreatedAt},
		App:     filter.AppInfo{ID: a.ID, UID: a.UID, Name: a.Name},
	}
}

func (rt *router) match(ep *herald.Endpoint, in *filter.Input, test bool) (bool, error) {
	p, err := rt.program(ep, test)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), filterTimeout)
	defer cancel()
	return p.Match(ctx, *in)
}
