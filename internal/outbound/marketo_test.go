package outbound_test

import (
	"context"
	"encoding/json"
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

// marketoLeads returns n leads for one marketo preset endpoint at base;
// lead i has the email lead<i>@example.com.
func marketoLeads(t *testing.T, base string, n int) []*outbound.Delivery {
	t.Helper()
	first := marketoDelivery(t, base)
	ds := make([]*outbound.Delivery, n)
	for i := range ds {
		ds[i] = &outbound.Delivery{
			ID: fmt.Sprintf("%s_%d", first.ID, i),
			Event: &herald.Event{ID: fmt.Sprintf("%s_%d", first.Event.ID, i), AppID: "app_1", EventType: "lead.export",
				Payload: herald.RawJSON(fmt.Sprintf(`{"email":"lead%d@example.com","name":"L%d"}`, i, i)), CreatedAt: eventTime},
			Endpoint: first.Endpoint, App: first.App,
		}
	}
	return ds
}

// TestMarketoBatch: leads due together go in one createOrUpdate with the
// OAuth2 token, one input per lead in order, and Marketo's result per
// lead decides each delivery: created or updated succeeds, skipped
// fails with its reason, a lead without a result is retried; a failed
// call (a token refused twice, a rate limit) is every lead's.
func TestMarketoBatch(t *testing.T) {
	t.Parallel()
	var mk marketo
	srv := serve(t, &mk)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})
	ds := marketoLeads(t, srv.URL, 5)

	mk.answer(`{"requestId":"b#1","success":true,"result":[{"seq":0,"id":1,"status":"created"},{"seq":1,"id":2,"status":"updated"},` +
		`{"seq":2,"status":"skipped","reasons":[{"code":"1006","message":"Field 'x' not found"}]},{"seq":4,"id":4,"status":"created"}]}`)
	o := h.SendBatch(context.Background(), ds)
	calls := mk.calls()
	if len(calls) != 1 || calls[0].Header.Get("Authorization") != "Bearer mkto-token-1" {
		t.Fatalf("%d calls (%v), want 1 with the token", len(calls), calls)
	}
	var call struct {
		Action      string           `json:"action"`
		LookupField string           `json:"lookupField"`
		Input       []map[string]any `json:"input"`
	}
	if err := json.Unmarshal(calls[0].Body, &call); err != nil {
		t.Fatalf("body %s: %v", calls[0].Body, err)
	}
	if call.Action != "createOrUpdate" || call.LookupField != "email" || len(call.Input) != 5 {
		t.Fatalf("body %s, want createOrUpdate of 5 leads", calls[0].Body)
	}
	for i, lead := range call.Input {
		if lead["email"] != fmt.Sprintf("lead%d@example.com", i) || lead["lastName"] != fmt.Sprintf("L%d", i) {
			t.Fatalf("input %d is %v, want lead %d mapped as the preset maps one", i, lead, i)
		}
	}
	wantOK(t, o.Outcome)
	if len(o.Each) != 5 {
		t.Fatalf("outcome per lead %+v, want 5", o.Each)
	}
	for _, i := range []int{0, 1, 4} {
		wantOK(t, o.Each[i])
	}
	if e := o.Each[2]; e.Kind != herald.ErrorKindHTTPStatus || e.Status != 400 || e.Error != "Marketo skipped the lead: 1006 Field 'x' not found" || e.Response == nil || e.Response.StatusCode != 200 {
		t.Fatalf("skipped lead: %+v, want a final failure with Marketo's reason", e)
	}
	if e := o.Each[3]; e.Kind != herald.ErrorKindHTTPStatus || e.Status != 503 || !strings.Contains(e.Error, "no result for lead 4 of the 5 sent") {
		t.Fatalf("lead without a result: %+v, want a retryable failure naming it", e)
	}
	if r := o.Requests[2].Body; !strings.HasPrefix(r, `{"email":"lead2@example.com"`) {
		t.Fatalf("lead 2 records request body %s, want its own lead", r)
	}

	// A token refused twice is every lead's, retried later.
	mk.answer(mktoTokenBad, mktoTokenBad)
	o = h.SendBatch(context.Background(), ds)
	if o.Each != nil || o.Status != 503 || !strings.Contains(o.Error, "601 Access token invalid") {
		t.Fatalf("601 twice: %+v, want the call's failure for every lead", o)
	}
	// A rate limit too.
	mk.answer(mktoRateLimited)
	if o = h.SendBatch(context.Background(), ds); o.Each != nil || o.Status != 503 || !strings.Contains(o.Error, "606") {
		t.Fatalf("606: %+v", o)
	}
	// Once refused, the token is fetched anew and the batch resent.
	all := `{"requestId":"b#2","success":true,"result":[{"seq":0,"id":1,"status":"updated"},{"seq":1,"id":2,"status":"updated"},` +
		`{"seq":2,"id":3,"status":"created"},{"seq":3,"id":4,"status":"created"},{"seq":4,"id":5,"status":"updated"}]}`
	mk.answer(mktoTokenBad, all)
	if o = h.SendBatch(context.Background(), ds); o.Kind != herald.ErrorKindNone || len(o.Each) != 5 || mk.tokens.Load() != 3 {
		t.Fatalf("601 then success: %+v after %d tokens", o, mk.tokens.Load())
	}
	for i := range ds {
		wantOK(t, o.Each[i])
	}
	if got := mk.calls()[len(mk.calls())-1].Header.Get("Authorization"); got != "Bearer mkto-token-3" {
		t.Fatalf("batch resent with %q, want the new token", got)
	}
}
