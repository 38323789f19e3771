package store

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// The conformance suite checks these helpers through both drivers; the
// tests here reach the edges it cannot afford (ClaimMaxRead) or that it
// sees only through a driver (the exact boundaries and encodings).

func TestClaimPicker(t *testing.T) {
	// A cap of 2 per endpoint with a limit of 3: the third row of "a" is
	// stepped over and "a" is reported capped for the next page.
	c := NewClaimPicker(ClaimParams{Limit: 3, PerEndpoint: 2})
	if c.Page() != 100 {
		t.Errorf("page %d, want 100 when capped endpoints may be stepped over", c.Page())
	}
	for _, r := range [][2]string{{"1", "a"}, {"2", "a"}, {"3", "a"}, {"4", "b"}, {"5", "b"}} {
		c.Offer(r[0], r[1])
	}
	if got := c.IDs(); !slices.Equal(got, []string{"1", "2", "4"}) {
		t.Errorf("picked %v, want [1 2 4]", got)
	}
	if !c.Full() || !slices.Equal(c.Capped(), []string{"a"}) {
		t.Errorf("full %v, capped %v; want full, [a]", c.Full(), c.Capped())
	}
	if c.NextPage() {
		t.Error("NextPage after a full claim")
	}

	// Without a cap, one page is all: a short page or a full one ends it.
	c = NewClaimPicker(ClaimParams{})
	if c.Page() != DefaultClaimLimit {
		t.Errorf("page %d, want DefaultClaimLimit", c.Page())
	}
	c.Offer("1", "a")
	if c.NextPage() {
		t.Error("NextPage without a cap")
	}

	// Full pages of capped rows go on until ClaimMaxRead rows were read.
	c = NewClaimPicker(ClaimParams{Limit: 10, PerEndpoint: 1})
	pages := 0
	for {
		pages++
		for range c.Page() {
			c.Offer("x", "a")
		}
		if !c.NextPage() {
			break
		}
	}
	if want := ClaimMaxRead / c.Page(); pages != want || len(c.IDs()) != 1 {
		t.Errorf("%d pages, %d picked; want %d pages, 1 picked", pages, len(c.IDs()), want)
	}
}

func TestDisableReason(t *testing.T) {
	now := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	p := HealthParams{Window: time.Hour, MinFailures: 3, Now: now}
	edge := now.Add(-time.Hour)
	later := edge.Add(time.Microsecond)
	for _, c := range []struct {
		name    string
		p       HealthParams
		enabled bool
		since   *time.Time
		failed  int
		want    bool
	}{
		{"failing for the whole window", p, true, &edge, 3, true},
		{"failing for less than the window", p, true, &later, 3, false},
		{"too few failures", p, true, &edge, 2, false},
		{"not failing", p, true, nil, 3, false},
		{"already disabled", p, false, &edge, 3, false},
		{"window 0", HealthParams{MinFailures: 3, Now: now}, true, &edge, 3, false},
	} {
		got := c.p.DisableReason(c.enabled, c.since, c.failed)
		if (got != "") != c.want {
			t.Errorf("%s: reason %q, want one: %v", c.name, got, c.want)
		}
	}
	want := "every delivery failed since 2031-03-04T04:06:07Z (3 failed deliveries)"
	if got := p.DisableReason(true, &edge, 3); got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
}

func TestFoldHealth(t *testing.T) {
	got := FoldHealth([]HealthResult{
		{AppID: "app", EndpointID: "b"},
		{AppID: "app", EndpointID: "a"},
		{AppID: "app", EndpointID: "b", Succeeded: true},
		{AppID: "app", EndpointID: "b"},
		{AppID: "app", EndpointID: "a"},
	})
	want := []*HealthTally{
		{AppID: "app", EndpointID: "b", Reset: true, Failures: 1},
		{AppID: "app", EndpointID: "a", Failures: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestSplitBody(t *testing.T) {
	payload := []byte(`{"lead":{"id":42,"name":"Ada","note":"` + strings.Repeat("x", 80) + `"}}`)
	for _, tc := range []struct {
		name, body string
		payload    []byte
		split      bool
	}{
		{"envelope", `{"type":"lead.created","timestamp":"2026-12-03T10:00:00Z","data":` + string(payload) + `}`, payload, true},
		{"raw", string(payload), payload, true},
		{"at the end", "prefix " + string(payload), payload, true},
		{"templated", `{"name":"Ada"}`, payload, false},
		{"short payload", `{"data":{"a":1}}`, []byte(`{"a":1}`), false},
		{"no payload", string(payload), nil, false},
		{"empty body", "", payload, false},
	} {
		rest, at := SplitBody(tc.body, tc.payload)
		if (at != nil) != tc.split {
			t.Errorf("%s: split %v, want %v", tc.name, at != nil, tc.split)
		}
		if at != nil && len(rest) != len(tc.body)-len(tc.payload) {
			t.Errorf("%s: %d bytes kept of %d, payload %d", tc.name, len(rest), len(tc.body), len(tc.payload))
		}
		got, err := JoinBody(rest, at, tc.payload)
		if err != nil || got != tc.body {
			t.Errorf("%s: joined %q, %v; want %q", tc.name, got, err, tc.body)
		}
	}
	rest, at := SplitBody(string(payload), payload)
	if _, err := JoinBody(rest, at, nil); err == nil {
		t.Error("a split body joined without its payload")
	}
	bad := 5
	if _, err := JoinBody(nil, &bad, payload); err == nil {
		t.Error("an offset past the stored bytes was accepted")
	}
}

func TestAttemptColumnsRoundTrip(t *testing.T) {
	for _, a := range []*herald.Attempt{
		{ID: "none", Request: herald.AttemptRequest{Body: "x"}, LatencyMS: 1.2345},
		{ID: "empty", Request: herald.AttemptRequest{Headers: map[string]string{}},
			Response: &herald.AttemptResponse{StatusCode: 502, Headers: map[string]string{}}},
		{ID: "full", Request: herald.AttemptRequest{Headers: map[string]string{"A": "1"}, Body: `{"n":1}`},
			Response:  &herald.AttemptResponse{StatusCode: 200, Headers: map[string]string{"B": "2"}, Body: "ok", BodyTruncated: true},
			LatencyMS: 12.5},
		{ID: "cut", Request: herald.AttemptRequest{Headers: map[string]string{}},
			Response: &herald.AttemptResponse{StatusCode: 200, Headers: map[string]string{"B": "2…"}, HeadersTruncated: true}},
	} {
		c, err := EncodeAttempt(a, nil)
		if err != nil {
			t.Fatal(err)
		}
		if (c.RequestHeaders == nil) != (a.Request.Headers == nil) || (c.Status == nil) != (a.Response == nil) {
			t.Errorf("%s: NULLs of %+v do not match the attempt", a.ID, c)
		}
		got := &herald.Attempt{ID: a.ID}
		if err := DecodeAttempt(got, c); err != nil {
			t.Fatal(err)
		}
		want := *a
		want.LatencyMS = float64(LatencyMicros(a.LatencyMS)) / 1000
		if !reflect.DeepEqual(got, &want) {
			t.Errorf("%s: got %+v, want %+v", a.ID, got, &want)
		}
	}
	bad := "{"
	err := DecodeAttempt(&herald.Attempt{ID: "bad"}, AttemptColumns{RequestHeaders: &bad})
	if err == nil || !strings.Contains(err.Error(), "attempt bad: request_headers") {
		t.Errorf("bad headers: %v", err)
	}
}

func TestEndpointDocsRoundTrip(t *testing.T) {
	disabled := time.Date(2031, 3, 4, 5, 6, 7, 891011, time.FixedZone("JST", 9*3600))
	ep := &herald.Endpoint{ID: "ep"}
	ep.DisabledAt = &disabled
	ep.Method = "PUT"
	d, err := EncodeEndpoint(ep)
	if err != nil {
		t.Fatal(err)
	}
	if d.EventTypes != "[]" {
		t.Errorf("nil subscriptions stored as %s, want []", d.EventTypes)
	}
	got := &herald.Endpoint{ID: "ep"}
	if err := DecodeEndpoint(got, d); err != nil {
		t.Fatal(err)
	}
	if got.EventTypes == nil || len(got.EventTypes) != 0 || got.Method != "PUT" {
		t.Errorf("decoded %+v", got)
	}
	if want := StoredTime(disabled); got.DisabledAt == nil || !got.DisabledAt.Equal(want) || got.DisabledAt.Location() != time.UTC {
		t.Errorf("disabled at %v, want %v in UTC", got.DisabledAt, want)
	}
}

func TestUsageCountsKeys(t *testing.T) {
	u := UsageCounts{}
	jan, feb := time.Date(2031, 1, 31, 23, 0, 0, 0, time.UTC), time.Date(2031, 2, 1, 8, 0, 0, 0, time.FixedZone("JST", 9*3600))
	u.Add("b", jan, 1)
	u.Add("a", feb, 2)
	u.Add("a", jan, 3)
	u.Add("a", jan, 0)
	want := []UsageKey{{"a", "2031-01"}, {"b", "2031-01"}}
	// feb is 2031-01-31T23:00Z: the UTC month counts.
	if got := u.Keys(); !slices.Equal(got, want) || u[want[0]] != 5 {
		t.Errorf("keys %v, counts %v; want %v, a's January 5", got, u, want)
	}
}
