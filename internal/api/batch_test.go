package api_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
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
		{"PATCH", path, map[string]any{"batch": map[string]any{"max_events": 10}, "transformation": "function handler(w) { return w }"}, "batch"},
		{"POST", "/v1/apps/acme/endpoints", map[string]any{"kind": "pull", "batch": map[string]any{"max_events": 10}}, "batch"},
	}
	for _, c := range cases {
		var e apiError
		code := s.Invalid().Do(c.method, c.path, c.body, &e)
		if code != 422 || e.Error.Field != c.field {
			t.Errorf("%s %s %v: %d %+v, want 422 naming %q", c.method, c.path, c.body, code, e, c.field)
		}
	}
}
