package outbound_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
)

// Marketo's answers: HTTP 200 whether the call worked or not.
const (
	mktoOK          = `{"requestId":"a#1","success":true,"result":[{"id":318581,"status":"updated"}]}`
	mktoTokenBad    = `{"requestId":"a#2","success":false,"errors":[{"code":"601","message":"Access token invalid"}]}`
	mktoRateLimited = `{"requestId":"a#3","success":false,"errors":[{"code":"606","message":"Max rate limit '100' exceeded with in '20' secs"}]}`
	mktoSkipped     = `{"requestId":"a#4","success":true,"result":[{"status":"skipped","reasons":[{"code":"1006","message":"Field 'phone' not found"}]}]}`
	// mktoHang queued: that call never answers (arrived is told of it).
	mktoHang = "hang"
)

// marketo stands in for a Marketo instance: its identity endpoint issues
// tokens, its leads endpoint answers what the test queued (else success).
type marketo struct {
	tokens atomic.Int64
	mu     sync.Mutex
	queue  []string
	leads  []received
	// arrived, when set, is told of each call queued to hang.
	arrived chan struct{}
}

func (m *marketo) answer(bodies ...string) {
	m.mu.Lock()
	m.queue = append(m.queue, bodies...)
	m.mu.Unlock()
}

func (m *marketo) calls() []received {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]received(nil), m.leads...)
}

func (m *marketo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/identity/oauth/token":
		_ = r.ParseForm()
		if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("client_id") != "cid" || r.Form.Get("client_secret") != "csec" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"access_token":"mkto-token-%d","token_type":"bearer","expires_in":3599,"scope":"api"}`, m.tokens.Add(1))
	case "/rest/v1/leads.json":
		got := record(r)
		m.mu.Lock()
		m.leads = append(m.leads, got)
		body := mktoOK
		if len(m.queue) > 0 {
			body, m.queue = m.queue[0], m.queue[1:]
		}
		m.mu.Unlock()
		if body == mktoHang {
			blockUntilDone(m.arrived)(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// marketoDelivery is a lead for the marketo preset pointed at base.
func marketoDelivery(t *testing.T, base string) *outbound.Delivery {
	d := newDelivery(t, "")
	d.Event.EventType = "lead.export"
	d.Event.Payload = herald.RawJSON(`{"email":"taro@example.com","lastName":"山田","firstName":"太郎","company":"ACME"}`)
	d.Endpoint.Preset = "marketo"
	d.Endpoint.PresetOptions = map[string]string{"munchkin_id": "123-ABC-456", "client_id": "cid", "client_secret": "csec", "base_url": base}
	return d
}

func TestMarketo(t *testing.T) {
	t.Parallel()
	var mk marketo
	srv := serve(t, &mk)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})
	d := marketoDelivery(t, srv.URL)
	send := func(step string, wantStatus, wantCalls int, wantTokens int64) outbound.Outcome {
		t.Helper()
		before := len(mk.calls())
		o := h.Send(context.Background(), d)
		if o.Status != wantStatus || len(mk.calls())-before != wantCalls || mk.tokens.Load() != wantTokens {
			t.Fatalf("%s: status %d after %d calls with %d tokens fetched, want %d, %d, %d; outcome %+v",
				step, o.Status, len(mk.calls())-before, mk.tokens.Load(), wantStatus, wantCalls, wantTokens, o)
		}
		return o
	}

	o := send("success", 200, 1, 1)
	wantOK(t, o)
	call := mk.calls()[0]
	if call.Header.Get("Authorization") != "Bearer mkto-token-1" || !strings.Contains(string(call.Body),
		`{"action":"createOrUpdate","lookupField":"email","input":[{"email":"taro@example.com","firstName":"太郎","lastName":"山田","company":"ACME"`) {
		t.Fatalf("leads call %v %s", call.Header, call.Body)
	}

	// 601: the token is refused; one refresh and the lead goes again
	// within the attempt, with the new token.
	mk.answer(mktoTokenBad)
	wantOK(t, send("601", 200, 2, 2))
	if calls := mk.calls(); calls[len(calls)-1].Header.Get("Authorization") != "Bearer mkto-token-2" {
		t.Fatalf("resent with %q", calls[len(calls)-1].Header.Get("Authorization"))
	}
	// Refused again after the refresh: no second refresh, retried later.
	mk.answer(mktoTokenBad, mktoTokenBad)
	if o := send("601 twice", 503, 2, 3); !strings.Contains(o.Error, "601 Access token invalid") {
		t.Fatalf("error %q", o.Error)
	}

	// 606: a rate limit, retried later with Marketo's message.
	mk.answer(mktoRateLimited)
	o = send("606", 503, 1, 3)
	if o.Kind != herald.ErrorKindHTTPStatus || !strings.Contains(o.Error, "606 Max rate limit") || o.Response == nil || o.Response.StatusCode != 200 || o.Response.Body != mktoRateLimited {
		t.Fatalf("606: %+v", o)
	}

	// A lead skipped for a bad field is final.
	mk.answer(mktoSkipped)
	o = send("skipped", 400, 1, 3)
	if o.Kind != herald.ErrorKindHTTPStatus || !strings.Contains(o.Error, "1006 Field 'phone' not found") {
		t.Fatalf("skipped: %+v", o)
	}
}

// The lead resent after a token refresh decides the attempt: cancelled,
// it is aborted; timed out, it is a timeout, not Marketo's refusal.
func TestMarketoResendAfterRefresh(t *testing.T) {
	t.Parallel()
	mk := marketo{arrived: make(chan struct{}, 1)}
	srv := serve(t, &mk)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})

	mk.answer(mktoTokenBad, mktoHang)
	ctx := cancelOnArrival(t, mk.arrived)
	if o := h.Send(ctx, marketoDelivery(t, srv.URL)); !o.Aborted {
		t.Fatalf("cancelled during the resend: %+v, want aborted", o)
	}
	if n := len(mk.calls()); n != 2 {
		t.Fatalf("%d leads calls, want 2", n)
	}

	mk.answer(mktoTokenBad, mktoHang)
	d := marketoDelivery(t, srv.URL)
	d.Endpoint.TimeoutMS = 100
	o := h.Send(context.Background(), d)
	if o.Kind != herald.ErrorKindTimeout || o.Status != 0 || o.Response != nil || !strings.HasPrefix(o.Error, "timeout:") || o.Aborted {
		t.Fatalf("resend timed out: %+v, want a timeout", o)
	}
}
