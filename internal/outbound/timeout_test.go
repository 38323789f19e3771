package outbound_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
)

// The endpoint's timeout_ms wins over its app's, which wins over the
// default. The receiver never answers: the attempt ends at the timeout in
// force, which a deadline cannot reach early, so its latency tells which
// one it was. The losing timeouts are either much shorter (then the
// latency would be too small) or long (then the test's own deadline ends
// the attempt first, as a network failure, not a timeout).
func TestTimeoutPrecedence(t *testing.T) {
	t.Parallel()
	srv := serve(t, &receiver{answer: blockUntilDone(nil)})
	const (
		wins  = 300 * time.Millisecond
		short = 20
		long  = 60_000
	)
	ms := int(wins / time.Millisecond)
	for _, c := range []struct {
		name             string
		endpoint, app    int
		defaultTimeoutMS int
	}{
		{"endpoint over a shorter app", ms, short, long},
		{"endpoint over a longer app", ms, long, short},
		{"app over a shorter default", 0, ms, short},
		{"app over a longer default", 0, ms, long},
		{"default", 0, 0, ms},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHTTP(t, newStore(t), outbound.HTTPOptions{DefaultTimeout: time.Duration(c.defaultTimeoutMS) * time.Millisecond})
			d := newDelivery(t, srv.URL)
			d.Endpoint.TimeoutMS, d.App.TimeoutMS = c.endpoint, c.app
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			o := h.Send(ctx, d)
			if o.Kind != herald.ErrorKindTimeout || o.Latency < wins || o.Response != nil || o.Status != 0 || o.Aborted {
				t.Fatalf("outcome kind %q after %v (error %q), want a timeout after %v", o.Kind, o.Latency, o.Error, wins)
			}
		})
	}
}

// An attempt cut short by its context, before any answer, is aborted: it
// does not count as an attempt.
func TestCancelledAttemptIsAborted(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	srv := serve(t, &receiver{answer: blockUntilDone(arrived)})
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})
	ctx := cancelOnArrival(t, arrived)
	o := h.Send(ctx, newDelivery(t, srv.URL))
	if !o.Aborted || o.Kind != "" || o.Response != nil {
		t.Fatalf("outcome %+v, want aborted", o)
	}
}

// Cancelled while fetching the endpoint's access token, the attempt is
// aborted too: it is not the token endpoint's failure.
func TestCancelledWhileFetchingTokenIsAborted(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	tokens := serve(t, &receiver{answer: blockUntilDone(arrived)})
	rc := &receiver{}
	srv := serve(t, rc)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})
	d := newDelivery(t, srv.URL)
	d.Endpoint.Auth = &herald.EndpointAuth{Type: "oauth2_client_credentials", TokenURL: tokens.URL + "/token", ClientID: "cid", ClientSecret: "cs"}
	ctx := cancelOnArrival(t, arrived)
	if o := h.Send(ctx, d); !o.Aborted || o.Kind != "" {
		t.Fatalf("outcome %+v, want aborted", o)
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

// A timeout an endpoint or its app saved before the operator lowered
// --max-tenant-timeout (here a minute, with a ceiling of 300 ms) is cut to
// the ceiling; the installation's own timeout is the operator's and is
// not. As above, the receiver never answers: only a timeout in force
// ends the attempt as a timeout, and its latency says which one.
func TestTimeoutHeldToCeiling(t *testing.T) {
	t.Parallel()
	srv := serve(t, &receiver{answer: blockUntilDone(nil)})
	const ceiling = 300 * time.Millisecond
	for _, c := range []struct {
		name           string
		endpoint, app  int
		defaultTimeout time.Duration
		wantAtLeast    time.Duration
	}{
		{"the endpoint's", 60_000, 0, time.Minute, ceiling},
		{"the app's", 0, 60_000, time.Minute, ceiling},
		{"the installation's", 0, 0, 600 * time.Millisecond, 600 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHTTP(t, newStore(t), outbound.HTTPOptions{DefaultTimeout: c.defaultTimeout, MaxTenantTimeout: ceiling})
			d := newDelivery(t, srv.URL)
			d.Endpoint.TimeoutMS, d.App.TimeoutMS = c.endpoint, c.app
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			o := h.Send(ctx, d)
			if o.Kind != herald.ErrorKindTimeout || o.Latency < c.wantAtLeast || o.Aborted {
				t.Fatalf("outcome kind %q after %v (error %q), want a timeout after %v", o.Kind, o.Latency, o.Error, c.wantAtLeast)
			}
		})
	}
}
