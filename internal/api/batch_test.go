package api_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/signing"
	"github.com/heraldhq/herald/verify"
)

// TestBatchFieldErrors: batch settings out of bounds, or on an endpoint
// that cannot batch, are refused with the field named; good ones read
// back, and null removes them.
func TestBatchFieldErrors(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	var ep struct {
		ID    string `json:"id"`
		Batch *struct {
			MaxEvents int `json:"max_events"`
			MaxWaitMS int `json:"max_wait_ms"`
			MaxBytes  int `json:"max_bytes"`
		} `json:"batch"`
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://example.com/hook",
		"batch": map[string]any{"max_events": 50, "max_wait_ms": 2000, "max_bytes": 65536}}, &ep, 201)
	if ep.Batch == nil || ep.Batch.MaxEvents != 50 || ep.Batch.MaxWaitMS != 2000 || ep.Batch.MaxBytes != 65536 {
		t.Fatalf("endpoint reads back batch %+v", ep.Batch)
	}
	var cleared map[string]any
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ep.ID, map[string]any{"batch": nil}, &cleared, 200)
	if cleared["batch"] != nil {
		t.Fatalf("batch after null reads back %v", cleared["batch"])
	}
	path := "/v1/apps/acme/endpoints/" + ep.ID
	cases := []struct {
		method, path string
		body         map[string]any
		field        string
	}{
		{"PATCH", path, map[string]any{"batch": map[string]any{"max_events": 1}}, "batch.max_events"},
		{"PATCH", path, map[string]any{"batch": map[string]any{"max_events": 1001}}, "batch.max_events"},
		{"PATCH", path, map[string]any{"batch": map[string]any{"max_wait_ms": 10}}, "batch.max_events"},
		{"PATCH", path, map[string]any{"batch": map[string]any{"max_events": 10, "max_wait_ms": -1}}, "batch.max_wait_ms"},
		{"PATCH", path, map[string]any{"batch": map[string]any{"max_events": 10, "max_wait_ms": 60001}}, "batch.max_wait_ms"},
		{"PATCH", path, map[string]any{"batch": map[string]any{"max_events": 10, "max_bytes": 1 << 40}}, "batch.max_bytes"},
		{"PATCH", path, map[string]any{"batch": map[string]any{"max_events": 10, "size": 3}}, "batch"},
		{"PATCH", path, map[string]any{"batch": 5}, "batch"},
		{"POST", "/v1/apps/acme/endpoints", map[string]any{"kind": "pull", "batch": map[string]any{"max_events": 10}}, "batch"},
		{"PATCH", path, map[string]any{"batch": map[string]any{"max_events": 10}, "method": "GET"}, "batch"},
		{"PATCH", path, map[string]any{"batch": map[string]any{"max_events": 10}, "content_type": "text/plain"}, "batch"},
	}
	for _, c := range cases {
		var e apiError
		code := s.Invalid().Do(c.method, c.path, c.body, &e)
		if code != 422 || e.Error.Field != c.field {
			t.Errorf("%s %s %v: %d %+v, want 422 naming %q", c.method, c.path, c.body, code, e, c.field)
		}
	}
	// A transformation batches, in either order of saving.
	var both struct {
		Batch *struct {
			MaxEvents int `json:"max_events"`
		} `json:"batch"`
		Transformation string `json:"transformation"`
	}
	s.MustDo("PATCH", path, map[string]any{"batch": map[string]any{"max_events": 10}, "transformation": "function handler(w) { return w }"}, &both, 200)
	if both.Batch == nil || both.Batch.MaxEvents != 10 || both.Transformation == "" {
		t.Fatalf("batch and transformation read back %+v", both)
	}
	s.MustDo("PATCH", path, map[string]any{"batch": nil}, nil, 200)
	s.MustDo("PATCH", path, map[string]any{"batch": map[string]any{"max_events": 5}}, &both, 200)
	if both.Batch == nil || both.Batch.MaxEvents != 5 || both.Transformation == "" {
		t.Fatalf("batch added to a transformed endpoint reads back %+v", both)
	}
	// Its scripts run one after another: a transformed endpoint's batch
	// is bounded tighter, whichever of the two comes last.
	var e apiError
	if code := s.Invalid().Do("PATCH", path, map[string]any{"batch": map[string]any{"max_events": 101}}, &e); code != 422 || e.Error.Field != "batch.max_events" {
		t.Errorf("batch of 101 with a transformation: %d %+v, want 422 naming batch.max_events", code, e)
	}
	s.MustDo("PATCH", path, map[string]any{"transformation": "", "batch": map[string]any{"max_events": 500}}, nil, 200)
	if code := s.Invalid().Do("PATCH", path, map[string]any{"transformation": "function handler(w) { return w }"}, &e); code != 422 || e.Error.Field != "batch.max_events" {
		t.Errorf("transformation on a batch of 500: %d %+v, want 422 naming batch.max_events", code, e)
	}
}

// batchEndpoint creates an endpoint of app acme batching with b for one
// new event type, signing with a new secret; it returns the type's name
// and the secret.
func batchEndpoint(t *testing.T, s *heraldtest.Server, url string, b map[string]any, extra map[string]any) (string, string) {
	t.Helper()
	name := fmt.Sprintf("b%d.%s", rand.Uint32(), strings.ToLower(strings.NewReplacer("/", ".", "_", "").Replace(t.Name())))
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": name}, nil, 201)
	secret, err := signing.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"url": url, "event_types": []string{name}, "secret": secret, "batch": b}
	maps.Copy(body, extra)
	s.MustDo("POST", "/v1/apps/acme/endpoints", body, nil, 201)
	return name, secret
}

type batchElement struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// readBatch verifies a batched request with secret and returns its
// elements.
func readBatch(t *testing.T, secret string, r heraldtest.Request) []batchElement {
	t.Helper()
	v, err := verify.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(r.Header, r.Body); err != nil {
		t.Fatalf("batch does not verify with the endpoint's secret: %v", err)
	}
	if id := r.Header.Get("webhook-id"); !strings.HasPrefix(id, "bat_") {
		t.Fatalf("webhook-id %q, want a batch id", id)
	}
	var els []batchElement
	if err := json.Unmarshal(r.Body, &els); err != nil {
		t.Fatalf("body %s is not an array of elements: %v", r.Body, err)
	}
	return els
}

// TestBatching runs batching endpoints on both stores with a real
// receiver: N events arrive in ⌈N/max_events⌉ signed requests, each
// element once, and each delivery's history names its batch; a 500
// retries the batch's deliveries until all succeed.
func TestBatching(t *testing.T) {
	pullStoresWith(t, func(*config.Serve) {}, func(t *testing.T, s *heraldtest.Server) {
		s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)

		t.Run("requests", func(t *testing.T) {
			rc := heraldtest.NewReceiver(t, nil)
			typ, secret := batchEndpoint(t, s, rc.URL, map[string]any{"max_events": 4, "max_wait_ms": 3000}, nil)
			const n = 10
			var events []string
			for i := range n {
				events = append(events, s.MustSend(t, typ, map[string]any{"n": i}))
			}
			var ds []heraldtest.Delivery
			for _, ev := range events {
				ds = append(ds, s.WaitDelivery(ev, "succeeded", 1, 20*time.Second))
			}
			reqs := rc.Requests()
			if len(reqs) != (n+3)/4 {
				t.Fatalf("%d requests for %d events, want %d", len(reqs), n, (n+3)/4)
			}
			batchOf := map[string]string{}
			for _, r := range reqs {
				els := readBatch(t, secret, r)
				if len(els) > 4 {
					t.Fatalf("a batch of %d, over max_events", len(els))
				}
				for _, el := range els {
					if batchOf[el.ID] != "" {
						t.Fatalf("delivery %s sent twice", el.ID)
					}
					if el.Type != typ || el.Timestamp == "" || !strings.HasPrefix(string(el.Data), `{"n":`) {
						t.Fatalf("element %+v", el)
					}
					batchOf[el.ID] = r.Header.Get("webhook-id")
				}
			}
			for _, d := range ds {
				if b := d.Attempts[0].BatchID; b == "" || b != batchOf[d.ID] {
					t.Fatalf("delivery %s attempt batch %q, sent in %q", d.ID, b, batchOf[d.ID])
				}
			}
		})

		t.Run("retry", func(t *testing.T) {
			rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.WriteHeader(http.StatusInternalServerError)
				}
			})
			typ, secret := batchEndpoint(t, s, rc.URL, map[string]any{"max_events": 3, "max_wait_ms": 3000}, map[string]any{"retry_schedule": "1s"})
			var events []string
			for i := range 3 {
				events = append(events, s.MustSend(t, typ, map[string]any{"n": i}))
			}
			var ds []heraldtest.Delivery
			for _, ev := range events {
				ds = append(ds, s.WaitDelivery(ev, "succeeded", 2, 30*time.Second))
			}
			reqs := rc.Requests()
			first := readBatch(t, secret, reqs[0])
			if len(first) != 3 {
				t.Fatalf("first batch of %d, want the 3 deliveries", len(first))
			}
			failed := reqs[0].Header.Get("webhook-id")
			for _, d := range ds {
				a := d.Attempts
				if a[0].BatchID != failed || a[0].Response == nil || a[0].Response.StatusCode != 500 || a[1].BatchID == "" || a[1].BatchID == failed {
					t.Fatalf("delivery %s attempts %+v, want the failed batch then another", d.ID, a)
				}
			}
		})
	})
}
