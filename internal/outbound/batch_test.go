package outbound_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/verify"
)

// batchOf returns n deliveries of lead.created to one endpoint at url.
func batchOf(t *testing.T, url string, n int) []*outbound.Delivery {
	t.Helper()
	first := newDelivery(t, url)
	first.Endpoint.Batch = &herald.BatchSettings{MaxEvents: n}
	ds := []*outbound.Delivery{first}
	for i := 1; i < n; i++ {
		ds = append(ds, &outbound.Delivery{
			ID: fmt.Sprintf("%s_%d", first.ID, i),
			Event: &herald.Event{ID: fmt.Sprintf("%s_%d", first.Event.ID, i), AppID: "app_1", EventType: "lead.created",
				Payload: herald.RawJSON(fmt.Sprintf(`{"name":"Ann","n":%d}`, i+1)), CreatedAt: eventTime},
			Endpoint: first.Endpoint, App: first.App,
		})
	}
	return ds
}

type element struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// TestSendBatch sends deliveries in one request: an array of elements in
// the order given, signed once over the whole body with the batch id as
// its webhook-id (verifiable with the endpoint's secret), and each
// delivery's recorded request holding its own element.
func TestSendBatch(t *testing.T) {
	rc := &receiver{}
	srv := serve(t, rc)
	clk := newClock()
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{Now: clk.Now})
	ds := batchOf(t, srv.URL+"/hooks", 3)

	o := h.SendBatch(context.Background(), ds)
	wantOK(t, o.Outcome)
	if !strings.HasPrefix(o.BatchID, herald.PrefixBatch) {
		t.Fatalf("batch id %q, want a %s id", o.BatchID, herald.PrefixBatch)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if id := got.Header.Get("webhook-id"); id != o.BatchID {
		t.Errorf("webhook-id %q, want the batch id %q", id, o.BatchID)
	}
	v, err := verify.New(ds[0].Endpoint.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyAt(got.Header, got.Body, clk.Now()); err != nil {
		t.Errorf("the batch does not verify with the endpoint's secret: %v", err)
	}
	if ct := got.Header.Get("Content-Type"); ct != herald.ContentJSON {
		t.Errorf("Content-Type %q, want %s", ct, herald.ContentJSON)
	}
	var els []element
	if err := json.Unmarshal(got.Body, &els); err != nil {
		t.Fatalf("body %s is not an array of elements: %v", got.Body, err)
	}
	if len(els) != len(ds) || len(o.Requests) != len(ds) {
		t.Fatalf("%d elements, %d recorded requests; want %d", len(els), len(o.Requests), len(ds))
	}
	for i, el := range els {
		d := ds[i]
		if el.ID != d.ID || el.Type != "lead.created" || el.Timestamp != "2026-03-02T09:29:58.123Z" || string(el.Data) != string(d.Event.Payload) {
			t.Errorf("element %d = %+v, want delivery %s with its payload %s", i, el, d.ID, d.Event.Payload)
		}
		r := o.Requests[i]
		var mine element
		if err := json.Unmarshal([]byte(r.Body), &mine); err != nil || mine.ID != d.ID {
			t.Errorf("recorded request %d holds %q, want delivery %s's element", i, r.Body, d.ID)
		}
		if r.Headers["Webhook-Id"] != o.BatchID || r.URL != srv.URL+"/hooks" || r.Method != "POST" {
			t.Errorf("recorded request %d: %s %s webhook-id %q; want the batch's", i, r.Method, r.URL, r.Headers["Webhook-Id"])
		}
	}
}

// TestSendBatchAnswer: the receiver's one answer is every delivery's.
func TestSendBatchAnswer(t *testing.T) {
	rc := &receiver{answer: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }}
	srv := serve(t, rc)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})
	o := h.SendBatch(context.Background(), batchOf(t, srv.URL, 2))
	if o.Kind != herald.ErrorKindHTTPStatus || o.Status != 500 || len(o.Requests) != 2 || o.BatchID == "" {
		t.Fatalf("outcome kind %q status %d, %d requests, batch %q; want http_status 500 for both of a batch", o.Kind, o.Status, len(o.Requests), o.BatchID)
	}
}

// TestSendBatchShapes: an endpoint with a body template sends, as each
// element's data, the body it makes for that event; a batch over the
// rendered size cap, or of a body that is not JSON, is refused without a
// request.
func TestSendBatchShapes(t *testing.T) {
	rc := &receiver{}
	srv := serve(t, rc)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{MaxRenderedSize: 4096})

	ds := batchOf(t, srv.URL, 2)
	ds[0].Endpoint.BodyTemplate = herald.RawJSON(`{"who":"{{payload.name}}","n":"{{payload.n}}"}`)
	wantOK(t, h.SendBatch(context.Background(), ds).Outcome)
	var els []element
	if err := json.Unmarshal(rc.last(t).Body, &els); err != nil || len(els) != 2 {
		t.Fatalf("body %s: %v", rc.last(t).Body, err)
	}
	if string(els[1].Data) != `{"who":"Ann","n":2}` {
		t.Errorf("templated element data %s", els[1].Data)
	}

	sent := len(rc.requests())
	big := batchOf(t, srv.URL, 2)
	big[1].Event.Payload = herald.RawJSON(`{"s":"` + strings.Repeat("x", 5000) + `"}`)
	if o := h.SendBatch(context.Background(), big); o.Kind != herald.ErrorKindPolicy || o.BatchID != "" {
		t.Errorf("oversized batch: kind %q batch %q, want policy and nothing sent", o.Kind, o.BatchID)
	}
	plain := batchOf(t, srv.URL, 2)
	plain[0].Endpoint.ContentType = herald.ContentPlain
	if o := h.SendBatch(context.Background(), plain); o.Kind == "" || o.BatchID != "" {
		t.Errorf("text/plain batch: kind %q batch %q, want a refusal", o.Kind, o.BatchID)
	}
	if o := h.SendBatch(context.Background(), nil); o.Kind != herald.ErrorKindPolicy {
		t.Errorf("empty batch: kind %q, want policy", o.Kind)
	}
	if n := len(rc.requests()); n != sent {
		t.Errorf("%d requests after refused batches, want %d", n, sent)
	}
}

// TestSendBatchLeavesOut: a delivery whose own element cannot be made (a
// strict template meets a missing value) is left out with its own
// outcome; the others go in the batch.
func TestSendBatchLeavesOut(t *testing.T) {
	rc := &receiver{}
	srv := serve(t, rc)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})
	ds := batchOf(t, srv.URL, 3)
	ds[0].Endpoint.BodyTemplate = herald.RawJSON(`{"who":"{{payload.name}}"}`)
	ds[0].Endpoint.TemplateStrict = true
	ds[1].Event.Payload = herald.RawJSON(`{"n":2}`)
	o := h.SendBatch(context.Background(), ds)
	wantOK(t, o.Outcome)
	if own, ok := o.Own[1]; !ok || own.Kind != herald.ErrorKindRender || len(o.Own) != 1 {
		t.Fatalf("left out %+v, want delivery 1 alone with kind render", o.Own)
	}
	var els []element
	if err := json.Unmarshal(rc.last(t).Body, &els); err != nil || len(els) != 2 || els[0].ID != ds[0].ID || els[1].ID != ds[2].ID {
		t.Fatalf("body %s, want the elements of deliveries 0 and 2", rc.last(t).Body)
	}
	if o.Requests[1].Body != "" || o.Requests[2].Body == "" {
		t.Errorf("recorded requests %+v", o.Requests)
	}
}
