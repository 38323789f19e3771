package outbound_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/verify"
)

// TestSendBatchTransformation: an endpoint's transformation runs on each
// delivery of a batch: its payload is the element's data, a cancel or a
// throw takes that delivery out (cancelled, or failed with kind
// transform), the batch's method, URL and headers are its first sent
// delivery's (Content-Type JSON whatever the script said), and a batch
// cut short while a script runs is aborted.
func TestSendBatchTransformation(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := serve(t, rc)
	clk := newClock()
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{Now: clk.Now})
	ds := batchOf(t, srv.URL+"/hooks", 4) // n is 1 to 4
	ds[0].Endpoint.Transformation = `function handler(w) {
		var p = w.payload;
		if (p.n === 1) return {cancel: true};
		if (p.n === 3) throw new Error("three");
		p.full_name = p.name; delete p.name;
		w.method = "PUT"; w.url += "/n" + p.n;
		w.headers = {"X-N": String(p.n), "Content-Type": "text/plain"};
		return w;
	}`

	o := h.SendBatch(context.Background(), ds)
	wantOK(t, o.Outcome)
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if got.Method != "PUT" || got.RequestURI != "/hooks/n2" || got.Header.Get("X-N") != "2" || got.Header.Get("Content-Type") != herald.ContentJSON {
		t.Fatalf("sent %s %s %v, want delivery 2's method, URL and headers, as JSON", got.Method, got.RequestURI, got.Header)
	}
	v, _ := verify.New(ds[0].Endpoint.Secret)
	if err := v.VerifyAt(got.Header, got.Body, clk.Now()); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var els []element
	if err := json.Unmarshal(got.Body, &els); err != nil || len(els) != 2 {
		t.Fatalf("body %s (%v), want 2 elements", got.Body, err)
	}
	for k, i := range []int{1, 3} {
		want := fmt.Sprintf(`{"n":%d,"full_name":"Ann"}`, i+1)
		if els[k].ID != ds[i].ID || string(els[k].Data) != want {
			t.Fatalf("element %d is %s %s, want delivery %s with %s", k, els[k].ID, els[k].Data, ds[i].ID, want)
		}
		if r := o.Requests[i].Body; !strings.Contains(r, `"data":`+want) {
			t.Fatalf("delivery %d records request body %s", i, r)
		}
	}
	if c, ok := o.Own[0]; !ok || !c.Cancelled || c.Kind != herald.ErrorKindNone || c.Response != nil {
		t.Fatalf("cancelled delivery's outcome %+v", c)
	}
	if f, ok := o.Own[2]; !ok || f.Cancelled || f.Kind != herald.ErrorKindTransform || !strings.Contains(f.Error, "three") {
		t.Fatalf("throwing delivery's outcome %+v", f)
	}
	if len(o.Own) != 2 {
		t.Fatalf("left out %v, want deliveries 0 and 2", o.Own)
	}

	// Every delivery cancelled: nothing is sent, each ends cancelled.
	all := batchOf(t, srv.URL+"/hooks", 2)
	all[0].Endpoint.Transformation = `function handler(w) { return {cancel: true} }`
	o = h.SendBatch(context.Background(), all)
	if len(o.Own) != 2 || !o.Own[0].Cancelled || !o.Own[1].Cancelled || len(rc.requests()) != 1 {
		t.Fatalf("all cancelled: %+v, %d requests", o, len(rc.requests()))
	}

	// Preview: the element the transformation makes.
	p := batchOf(t, srv.URL+"/hooks", 2)
	p[0].Endpoint.Transformation = ds[0].Endpoint.Transformation
	pr, err := h.PreviewBatch(context.Background(), p[1:])
	if err != nil || pr.URL != srv.URL+"/hooks/n2" || !strings.Contains(string(pr.Body), `"data":{"n":2,"full_name":"Ann"}`) {
		t.Fatalf("preview %+v (%v)", pr, err)
	}

	// Shutdown while a script runs: the batch never happened.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cut := batchOf(t, srv.URL+"/hooks", 2)
	cut[0].Endpoint.Transformation = `function handler(w) { for (;;) {} }`
	if o := h.SendBatch(ctx, cut); !o.Aborted {
		t.Fatalf("cut short: %+v", o)
	}
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("the receiver got %d requests, want 1", n)
	}
}

// TestMarketoBatchTransformation: a Marketo endpoint batching with its own
// batch and a transformation sends each lead's transformed payload as its
// record of input, and Marketo's results are matched to the leads sent.
func TestMarketoBatchTransformation(t *testing.T) {
	t.Parallel()
	var mk marketo
	srv := serve(t, &mk)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})
	ds := marketoLeads(t, srv.URL, 3)
	ds[0].Endpoint.Batch = &herald.BatchSettings{MaxEvents: 3}
	ds[0].Endpoint.Transformation = `function handler(w) {
		if (w.payload.name === "L1") return {cancel: true};
		w.payload = {email: w.payload.email, firstName: w.payload.name};
		return w;
	}`
	mk.answer(`{"requestId":"b#1","success":true,"result":[{"seq":0,"id":1,"status":"created"},` +
		`{"seq":1,"status":"skipped","reasons":[{"code":"1006","message":"Field 'x' not found"}]}]}`)
	o := h.SendBatch(context.Background(), ds)
	calls := mk.calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	var call struct {
		Action string            `json:"action"`
		Input  []json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(calls[0].Body, &call); err != nil || call.Action != "createOrUpdate" || len(call.Input) != 2 ||
		string(call.Input[0]) != `{"email":"lead0@example.com","firstName":"L0"}` || string(call.Input[1]) != `{"email":"lead2@example.com","firstName":"L2"}` {
		t.Fatalf("body %s (%v), want the 2 transformed leads", calls[0].Body, err)
	}
	wantOK(t, o.Each[0])
	if e := o.Each[2]; e.Status != 400 || !strings.Contains(e.Error, "1006") {
		t.Fatalf("lead 2: %+v, want its own skipped result", e)
	}
	if c := o.Own[1]; !c.Cancelled {
		t.Fatalf("lead 1: %+v, want cancelled", c)
	}
}
